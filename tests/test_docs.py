"""Every public object is documented, and every constructor parameter appears in its docstring."""

import inspect

import pytest

import robustsk.active
import robustsk.annotate
import robustsk.attacks
import robustsk.datasets
import robustsk.certify
import robustsk.estimators
import robustsk.metrics
import robustsk.nets
import robustsk.perturb
import robustsk.query
import robustsk.reproduce
import robustsk.selection

MODULES = [
    robustsk.active,
    robustsk.annotate,
    robustsk.attacks,
    robustsk.certify,
    robustsk.datasets,
    robustsk.estimators,
    robustsk.metrics,
    robustsk.nets,
    robustsk.perturb,
    robustsk.query,
    robustsk.reproduce,
    robustsk.selection,
]
PUBLIC = [
    (m.__name__, name, getattr(m, name))
    for m in MODULES
    for name in m.__all__
    if callable(getattr(m, name))
]


@pytest.mark.parametrize("module, name, obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_object_documents_its_parameters(module, name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{module}.{name} has no docstring"
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = [
        p
        for p in inspect.signature(target).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    missing = [p.name for p in params if f"{p.name} :" not in doc and f"{p.name}:" not in doc]
    assert not missing, f"{module}.{name} does not document {missing}"


def test_ci_runs_the_readme_test_command():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:]]
    test_commands = [b for b in blocks if "pytest" in b]
    assert len(test_commands) == 1 and test_commands[0] in ci
    assert any(b.endswith("robustsk demo") for b in blocks)


def test_api_reference_lists_every_public_name():
    """doc/api.rst has an entry for each name of each subpackage's ``__all__`` (aliases aside)."""
    import re
    from pathlib import Path

    import robustsk.utils

    api = (Path(__file__).resolve().parents[1] / "doc" / "api.rst").read_text()
    entries = set(re.findall(r"^   (\w+)$", api, flags=re.M))
    entries |= set(re.findall(r"^\.\. autodata:: (\w+)$", api, flags=re.M))
    missing = []
    for m in [*MODULES, robustsk.utils]:
        for name in m.__all__:
            obj = getattr(m, name)
            alias = inspect.isfunction(obj) and obj.__name__ != name and obj.__name__ in m.__all__
            if not alias and name not in entries:
                missing.append(f"{m.__name__}.{name}")
    assert not missing, f"doc/api.rst does not list {missing}"


def test_examples_page_includes_every_example():
    """doc/examples.rst publishes the source of every script in examples/ (the tested ones)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "doc" / "examples.rst").read_text()
    missing = [
        f.name
        for f in sorted((root / "examples").glob("*.py"))
        if f".. literalinclude:: ../examples/{f.name}" not in page
    ]
    assert not missing, f"doc/examples.rst does not include {missing}"
