"""robustsk: robust classifiers and robustness-aware active learning, the scikit-learn way."""

from typing import Any

from ._version import __version__

__all__ = ["__version__", "config_context", "get_config", "set_config"]


def __getattr__(name: str) -> Any:
    # The global options live in robustsk.utils, which imports torch: loaded on first use,
    # so that ``import robustsk`` (and the command line's --help) stays light.
    if name in ("config_context", "get_config", "set_config"):
        from . import utils

        return getattr(utils, name)
    raise AttributeError(f"module 'robustsk' has no attribute {name!r}")
