"""robustsk: robust classifiers and robustness-aware active learning, the scikit-learn way."""

from ._version import __version__

__all__ = ["__version__"]
