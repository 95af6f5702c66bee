"""The public API is annotated: every parameter and return of every exported function, and of
the constructor and public methods of every exported class (mypy checks them in CI)."""

import importlib
import inspect

import pytest

MODULES = [
    "active",
    "annotate",
    "attacks",
    "certify",
    "datasets",
    "estimators",
    "metrics",
    "nets",
    "perturb",
    "query",
    "reproduce",
    "selection",
    "utils",
]


def _public_callables(module_name):
    module = importlib.import_module(f"robustsk.{module_name}")
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            if "__init__" in obj.__dict__:
                yield f"{name}.__init__", obj.__init__
            for attr, value in obj.__dict__.items():
                if inspect.isfunction(value) and not attr.startswith("_"):
                    yield f"{name}.{attr}", value


@pytest.mark.parametrize("module_name", MODULES)
def test_public_api_is_annotated(module_name):
    missing = []
    for name, func in _public_callables(module_name):
        sig = inspect.signature(func)
        params = [
            p.name
            for p in sig.parameters.values()
            if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
        ]
        no_return = sig.return_annotation is inspect.Signature.empty and not name.endswith(
            "__init__"
        )
        if params or no_return:
            missing.append(f"{name}: " + ", ".join(params + (["return"] if no_return else [])))
    assert not missing, f"robustsk.{module_name} lacks annotations:\n" + "\n".join(missing)
