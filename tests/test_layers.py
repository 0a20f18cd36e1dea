"""The layering DESIGN.md draws, read from the code: what each package may import.

Every ``import`` statement counts, at the top of a module or inside a function: an import put
off until it is needed is still a dependency. The rules are the table in DESIGN.md ("What may
import what"); change both together.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The torch-free base: the run directory and what describes a run. The cockpit stands on it alone.
BASE = {"errors", "validate", "config", "view", "health", "run"}
ALLOWED = {  # genlab's packages (or top-level modules) -> the genlab packages they may import
    **{name: BASE for name in BASE},
    "render": BASE | {"render"},
    "export": BASE | {"render"},
    "report": BASE | {"render", "report"},
    "core": BASE | {"core"},
    "models": BASE | {"core", "models"},
    "eval": BASE | {"core", "models", "eval", "render"},
    "train": BASE | {"core", "models", "eval", "render", "export", "train"},
    "api": BASE | {"render", "train"},
    "sweep": BASE | {"core", "models", "eval", "train", "sweep"},
    "cli": BASE | {"core", "models", "eval", "train", "sweep", "render", "export", "report", "api", "cli"},
    "__init__": {"api"},
    "__main__": {"cli"},
}
HEAVY = {"torch", "torchvision", "optuna", "typer", "rich", "textual", "textual_plotext", "plotext"}
FORBIDDEN = {  # third-party packages a layer must not import
    **{name: HEAVY for name in BASE},
    "render": {"torch", "torchvision", "optuna", "typer", "textual", "textual_plotext"},  # Rich and plotext draw
    "export": HEAVY - {"torch", "torchvision"},  # TensorBoard's writer and image grids, for --tensorboard only
    "report": HEAVY,  # matplotlib draws its figures
    "core": {"optuna", "typer", "rich", "textual", "textual_plotext"},
    "models": {"optuna", "typer", "rich", "textual", "textual_plotext"},
    "eval": {"optuna", "typer", "textual", "textual_plotext"},
    "train": {"optuna", "typer", "textual", "textual_plotext"},
    "api": {"optuna", "typer", "textual", "textual_plotext"},  # torch only to log a tensor a script hands it
    "sweep": {"typer", "textual", "textual_plotext"},
}
TUI_ALLOWED = BASE | {"render"}
TUI_FORBIDDEN = {"torch", "torchvision", "optuna", "typer"}
# What the models declare (genlab/models/catalogue.py, genlab/models/specs/) is torch-free, a part of
# the base: the cockpit reads it too. (Importing it runs genlab/models/__init__.py, which imports
# torch only when a model is built: tests/test_torch_free.py checks that in a fresh interpreter.)
DECLARATIONS = ("genlab.models.catalogue", "genlab.models.specs")


def declaration(module: str) -> bool:
    return any(module == d or module.startswith(d + ".") for d in DECLARATIONS)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module name) of every import in a file, absolute names only."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "genlab":  # from genlab import x: x is a package, a module or a name
                found += [(node.lineno, f"genlab.{alias.name}") for alias in node.names
                          if (ROOT / "genlab" / alias.name).is_dir() or (ROOT / "genlab" / f"{alias.name}.py").exists()]
            else:
                found.append((node.lineno, node.module))
    return found


def layer(path: Path) -> str:
    parts = path.relative_to(ROOT / "genlab").with_suffix("").parts
    return parts[0]


def broken_rules() -> list[str]:
    broken = []
    for path in sorted((ROOT / "genlab").rglob("*.py")):
        name = layer(path)
        where = path.relative_to(ROOT)
        declares = declaration(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        for line, module in imports(path):
            top, *rest = module.split(".")
            if declares and top == "genlab" and rest and not (rest[0] in BASE or declaration(module)):
                broken.append(f"{where}:{line}: a model's declaration imports {module}")
            elif declares and top in HEAVY:
                broken.append(f"{where}:{line}: a model's declaration imports {top}")
            elif top == "genlab" and rest:
                target = rest[0]
                if target not in ALLOWED.get(name, set()) and not declaration(module):  # (the declarations: base)
                    broken.append(f"{where}:{line}: {name} imports genlab.{target}")
            elif top in FORBIDDEN.get(name, set()):
                broken.append(f"{where}:{line}: {name} imports {top}")
    for path in sorted((ROOT / "tui").rglob("*.py")):
        where = path.relative_to(ROOT)
        for line, module in imports(path):
            top, *rest = module.split(".")
            if top == "genlab" and rest and rest[0] not in TUI_ALLOWED and not declaration(module):
                broken.append(f"{where}:{line}: the cockpit imports genlab.{rest[0]}")
            elif top in TUI_FORBIDDEN:
                broken.append(f"{where}:{line}: the cockpit imports {top}")
    return broken


def test_every_package_imports_only_what_the_design_allows():
    assert broken_rules() == []


def test_every_package_of_genlab_has_a_rule():
    packages = {layer(p) for p in (ROOT / "genlab").rglob("*.py")} - {"bundled"}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)


def test_the_rules_catch_a_forbidden_import(tmp_path, monkeypatch):
    """The reader sees imports inside functions too (a put-off import is still a dependency)."""
    fake = tmp_path / "genlab" / "run"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text("def f():\n    import torch\n    from genlab.train import trainer\n")
    specs = tmp_path / "genlab" / "models" / "specs"
    specs.mkdir(parents=True)
    (specs / "toy.py").write_text("from genlab.view import View\nfrom genlab.models import base\nimport torch\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    (tmp_path / "tui").mkdir()
    (tmp_path / "tui" / "x.py").write_text("from genlab.models.catalogue import SPECS\nfrom genlab.models import build\n")
    assert broken_rules() == ["genlab/models/specs/toy.py:2: a model's declaration imports genlab.models",
                              "genlab/models/specs/toy.py:3: a model's declaration imports torch",
                              "genlab/run/x.py:2: run imports torch", "genlab/run/x.py:3: run imports genlab.train",
                              "tui/x.py:2: the cockpit imports genlab.models"]


def test_the_digits_as_images_load_no_textual():
    """`genlab show`/`sample` draw digits through textual-image's Rich renderables (tui/images.py):
    importing them (and the rule in genlab/render/images.py) loads no Textual module, in a fresh
    interpreter, so printing digits as images costs no Textual start-up."""
    import subprocess
    import sys

    code = ("import sys, genlab.render.images, tui.images as m, textual_image.renderable; m.picture; "
            "print(sorted(n for n in sys.modules if n == 'textual' or n.startswith('textual.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
