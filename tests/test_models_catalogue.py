"""The catalogue (genlab/models/catalogue.py) is what the models are: a class's attributes are
its spec's, and the parameter counts a spec declares are those of the model built at its defaults."""

import pytest

from genlab import models
from genlab.errors import UsageError
from genlab.models import catalogue
from genlab.models.specs import ModelSpec


def test_every_class_is_its_specs_declaration():
    assert list(models.MODELS) == list(catalogue.SPECS)  # the same models, in the same order
    for name, cls in models.MODELS.items():
        spec = catalogue.spec(name)
        assert cls.spec is spec and spec.implementation == f"{cls.__module__}:{cls.__qualname__}", name
        for attribute in ModelSpec.CLASS_ATTRIBUTES:
            assert getattr(cls, attribute) is getattr(spec, attribute), (name, attribute)


@pytest.mark.parametrize("name", list(catalogue.SPECS))
def test_declared_parameter_counts_are_the_built_models(name):
    assert models.build(name).parameter_counts() == catalogue.spec(name).parameters


def test_the_catalogue_checks_hyperparameters_as_a_build_does():
    with pytest.raises(UsageError, match=r"^unknown model 'gna'; choose from gan, dcgan, wgan-gp, cgan, vae, "):
        catalogue.spec("gna")
    assert catalogue.hyperparameters("cgan", {"lr": 5e-4}, "cpu") == {**catalogue.spec("cgan").defaults,
                                                                       "batch_size": 64, "lr": 5e-4, "width": 22,
                                                                       "d_lr_ratio": 0.55, "ema": 0.99, "loss": "hinge",
                                                                       "g_blocks": 1}
    assert catalogue.hyperparameters("vae", {"latent": 4.0})["latent"] == 4  # an integer stays one
    for hp, preset, message in [({"depth": 3}, None, "model 'vae' has no hyperparameter depth; it has batch_size"),
                                ({}, "large", "model 'vae' has no preset 'large'; it has cpu, gpu"),
                                ({"beta": -1}, None, "--hp beta for vae must be >= 0 and < 1000, got -1"),
                                ({"kl_warmup": 1.5}, None, "--hp kl_warmup must be an integer, got 1.5"),
                                ({"lr": 0}, None, "learning rate must be positive, got 0")]:
        with pytest.raises(UsageError, match="^" + message) as declared:
            catalogue.hyperparameters("vae", hp, preset)
        with pytest.raises(UsageError) as built:
            models.hyperparameters("vae", hp, preset)
        assert str(declared.value) == str(built.value)
