"""dcgan's ``--hp clusters=K`` (genlab/models/clusters.py): G and D conditioned on the training
digits' own k-means clusters, no label read; off by default (today's dcgan, tests/test_gan_options.py)."""

from __future__ import annotations

import json

import pytest
import torch
from test_gan_options import batches, same, tensors
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.core import checkpoint
from genlab.errors import GenlabError
from genlab.eval.latent import walks
from genlab.models.clusters import Clusters
from genlab.train.execute import create, execute, prepare


def three_kinds(n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` digits of each of three kinds (blank, top half lit, bottom half lit), with noise,
    shuffled: the digits and their kind."""
    g = torch.Generator().manual_seed(3)
    kinds = torch.arange(3).repeat_interleave(n)[torch.randperm(3 * n, generator=g)]
    images = torch.randint(0, 40, (3 * n, 28, 28), generator=g)
    images[kinds == 1, :14] += 200
    images[kinds == 2, 14:] += 200
    return images.to(torch.uint8), kinds


def test_kmeans_finds_the_kinds_of_digit_and_their_shares():
    images, kinds = three_kinds()
    images, kinds = images[10:], kinds[10:]  # unequal shares
    c = Clusters(3, torch.device("cpu"))
    c.fit(images)
    found = c.of(images)
    # one cluster per kind: the same partition, whatever the clusters' order
    pairs = set(zip(found.tolist(), kinds.tolist()))
    assert len(pairs) == 3 and {f for f, _ in pairs} == {0, 1, 2}
    want = torch.bincount(kinds, minlength=3).float() / len(kinds)
    assert torch.allclose(c.shares, want[[k for _, k in sorted(pairs)]])
    # a uniform draw picks each cluster for its share
    u = (torch.arange(800) + 0.5) / 800
    assert torch.allclose(torch.bincount(c.drawn(u), minlength=3).float() / 800, c.shares, atol=1 / 800)
    with pytest.raises(GenlabError, match="--hp clusters=3 needs at least 3 training digits; there are 2"):
        Clusters(3, torch.device("cpu")).fit(images[:2])


def test_the_same_digits_give_the_same_clusters_on_any_number_of_threads():
    images, _ = three_kinds(200)
    threads = torch.get_num_threads()
    fitted = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            c = Clusters(5, torch.device("cpu"))
            c.fit(images)
            fitted.append(c)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(fitted[0].centres, fitted[1].centres) and torch.equal(fitted[0].shares, fitted[1].shares)


def test_a_clustered_dcgan_is_conditioned_on_each_digits_cluster_and_draws_clusters_by_their_share():
    images, labels = batches(3)
    torch.manual_seed(0)
    m = models.build("dcgan", {"width": 8, "batch_size": 16, "clusters": 4})
    m.prepare(images.flatten(0, 1))
    assert m.G.classes == 4 and m.D.classes == 4 and m.D.embed.num_embeddings == 4
    # the step conditions G and D on the digits' nearest centres, never on their labels
    seen = []
    m.D.register_forward_pre_hook(lambda net, args: seen.append(args[1].clone()))
    m.step(images[0], labels[0])
    assert torch.equal(seen[0], m.clusters.of(images[0])) and not torch.equal(seen[0], labels[0])
    # its latent: z and a uniform draw, one in each n-th of [0, 1), which picks the cluster
    latent = m.latent(1000, torch.Generator().manual_seed(1))
    assert latent.shape == (1000, 101) and bool(((latent[:, -1] >= 0) & (latent[:, -1] < 1)).all())
    z, drawn = m.split(latent)
    assert z.shape == (1000, 100)
    assert torch.allclose(torch.bincount(drawn, minlength=4).float() / 1000, m.clusters.shares, atol=1e-3)
    # a latent walk keeps its row's cluster; only the noise walks
    w = walks(m, 2, 5, torch.Generator().manual_seed(0))
    assert all(len(set(w[r * 5:(r + 1) * 5, -1].tolist())) == 1 for r in range(2))
    # a model without clusters has no such column; cgan has no such option (it has the labels)
    assert models.build("dcgan", {"width": 8}).latent(3, torch.Generator()).shape == (3, 100)
    with pytest.raises(Exception, match="model 'cgan' has no hyperparameter clusters"):
        models.build("cgan", {"clusters": 4})


def test_a_clustered_run_keeps_its_clusters_and_a_resume_is_exact(runs):
    """The engine fits the clusters before the first step and keeps them in each checkpoint; a run
    stopped and resumed ends with the weights of one that went straight through."""
    hp = {"width": 4, "clusters": 3}
    options = dict(runs_dir=runs, max_steps=6, batch_size=16, hp=hp, eval_size=100, quality_every_steps=0)
    straight = create(prepare("dcgan", name="straight", **options))
    assert execute(straight) == "finished"
    assert json.loads((straight / "config.json").read_text())["hp"]["clusters"] == 3
    ckpts = checkpoint.list_checkpoints(straight)
    first, last = checkpoint.load(ckpts[0]), checkpoint.load(ckpts[-1])
    assert first["models"]["clusters"]["centres"].shape == (3, 784) and float(first["models"]["clusters"]["shares"].sum()) == pytest.approx(1)
    assert torch.equal(first["models"]["clusters"]["centres"], last["models"]["clusters"]["centres"])

    halted = create(prepare("dcgan", name="halted", **{**options, "max_steps": 3}))
    assert execute(halted) == "finished"
    r = CliRunner().invoke(app, ["resume", "halted", "--max-steps", "6", "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    resumed = checkpoint.load(checkpoint.list_checkpoints(halted)[-1])
    assert resumed["step"] == last["step"] == 6
    assert same(tensors(resumed), tensors(last)) and torch.equal(resumed["models"]["clusters"]["centres"], last["models"]["clusters"]["centres"])
