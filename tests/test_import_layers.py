"""robustsk's imports follow its layers and never reach into another package's private files.

The rule, checked on the source of every module of ``robustsk/`` (imports inside
functions and ``TYPE_CHECKING`` blocks included):

1. A subpackage is used from outside only through the package itself
   (``from ..perturb import check_range``), never through its underscore modules
   (``from ..perturb._range import check_range``) and never by an underscore name
   (``from ..query import _proba_block``). The package's ``__init__`` is its
   interface: ``__all__`` is the public API (listed in doc/api.rst); names it
   re-exports beyond ``__all__`` (written ``name as name``) are shared with the
   rest of robustsk only.
2. A subpackage imports only subpackages of a lower layer (``LAYERS``, bottom
   first), so data flows one way: ``utils`` (which holds the one layer that reaches
   into a fitted torch net) and ``compat`` import nothing from robustsk, ``nets`` and
   ``perturb`` only ``utils``, and so on up to ``reproduce``. The top-level modules
   (``robustsk/cli.py``, ``robustsk/_demo.py`` ...) sit above every subpackage and
   may import any of them; no subpackage imports a top-level module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "robustsk"

#: Subpackages from the bottom layer up; a package imports only packages of lower layers.
LAYERS = [
    {"utils", "compat"},
    {"perturb", "nets"},
    {"attacks", "certify", "datasets"},
    {"estimators", "query", "metrics"},
    {"active", "selection"},
    {"annotate"},
    {"reproduce"},
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
ROOT = ""  # the top-level modules: robustsk/__init__.py, cli.py, _demo.py, ...


def _module_name(path: Path) -> tuple[list[str], bool]:
    """Dotted parts of the module at ``path`` and whether it is a package ``__init__``."""
    parts = ["robustsk", *path.relative_to(SRC).with_suffix("").parts]
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _package(parts: list[str]) -> str:
    """The subpackage a dotted module name lies in (``ROOT`` for top-level modules)."""
    if len(parts) >= 2 and (SRC / parts[1]).is_dir():
        return parts[1]
    return ROOT


def _imports(source: str, parts: list[str], is_package: bool):
    """Yield ``(line, dotted target)`` for each robustsk module or name imported."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = base + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            for alias in node.names:
                yield node.lineno, module + [alias.name]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(source: str, path: Path) -> list[str]:
    """Every import in ``source`` (the module at ``path``) that breaks the rule."""
    parts, is_package = _module_name(path)
    own = _package(parts)
    found = []
    for line, target in _imports(source, parts, is_package):
        if target[0] != "robustsk":
            continue
        where = f"{path.relative_to(SRC.parent)}:{line}: {'.'.join(target)}"
        other = _package(target)
        if other == own:
            continue
        inside = target[2:] if other != ROOT else target[1:]
        if any(_private(p) for p in inside):
            found.append(f"{where} reaches into {other or 'robustsk'}'s private names")
        if own == ROOT:
            continue
        if other == ROOT:
            found.append(f"{where}: a subpackage imports a top-level module")
        elif RANK[other] >= RANK[own]:
            layers = f"{own} (layer {RANK[own]}) imports {other} (layer {RANK[other]})"
            found.append(f"{where}: {layers}")
    return found


FILES = sorted(SRC.rglob("*.py"))


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RANK), f"add {packages - set(RANK)} to LAYERS, or drop stale names"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SRC)) for p in FILES])
def test_imports_follow_the_layers(path):
    found = violations(path.read_text(encoding="utf-8"), path)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "module, source, fragment",
    [
        ("metrics/_x.py", "from ..query._base import batches", "query's private names"),
        ("metrics/_x.py", "from ..query import _proba_block", "query's private names"),
        ("metrics/_x.py", "import robustsk.query._base", "query's private names"),
        ("query/_x.py", "from .. import _demo", "robustsk's private names"),
        ("utils/_x.py", "def f():\n    from ..active import ActiveLearner", "imports active"),
        ("metrics/_x.py", "from ..query import dre", "metrics (layer 3) imports query"),
        ("perturb/__init__.py", "from ..cli import main", "imports a top-level module"),
    ],
)
def test_the_check_catches_a_reach(module, source, fragment):
    found = violations(source, SRC / module)
    assert any(fragment in f for f in found), found


@pytest.mark.parametrize(
    "module, source",
    [
        ("metrics/_x.py", "from ..utils import TorchClassifier, batches"),
        ("metrics/_x.py", "from ._rpr import validate_rpr_args"),
        ("query/__init__.py", "from ._base import batches"),
        ("cli.py", "from ._demo import run_demo\nfrom .reproduce import RPRConfig"),
        (
            "active/_x.py",
            "from ..query import max_entropy\nfrom robustsk.perturb import GaussianNoise",
        ),
    ],
)
def test_the_check_allows_the_interfaces(module, source):
    assert violations(source, SRC / module) == []
