"""A warning when a robust fit ends at chance: the perturbation budget is too large."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._base import DATA_KEY

#: Training examples scored at the end of a fit (a bounded cost whatever the data's size).
N_CHECKED = 1000

#: How far above chance (the largest class's share) a fit must end not to be warned about.
MARGIN = 0.02


def warn_if_at_chance(net: Any, X: Any, y: Any, param: str) -> None:
    """Warn, naming ``param``, when ``net`` classifies its training data no better than chance.

    Adversarial and certified training at a budget the data cannot bear (eps 0.3
    on the 8x8 digits, say) end with a model that predicts one class: its clean
    accuracy on (up to :data:`N_CHECKED` of) the training examples is compared
    with the largest class's share among them, and a fit within :data:`MARGIN`
    of it says so in a :class:`UserWarning`.

    Parameters
    ----------
    net : RobustNetClassifier
        The fitted estimator.
    X : dict
        The training data as the fit loop holds it (``X[DATA_KEY]`` the examples).
    y : array-like of shape (n,)
        The encoded labels.
    param : str
        The estimator parameter holding the budget (``"eps"``, ``"eps0"``).
    """
    if not isinstance(X, dict) or DATA_KEY not in X or y is None:
        return
    labels = np.asarray(y)[:N_CHECKED]
    if labels.size == 0:
        return
    counts = np.bincount(labels.astype(np.int64))
    if (counts > 0).sum() < 2:
        return
    accuracy = float((net.predict_proba(X[DATA_KEY][:N_CHECKED]).argmax(1) == labels).mean())
    chance = float(counts.max() / labels.size)
    if accuracy <= chance + MARGIN:
        warnings.warn(
            f"{type(net).__name__} ends its fit at chance: training accuracy {accuracy:.3f} "
            f"against {chance:.3f} for always predicting the largest class. The budget "
            f"{param}={getattr(net, param)!r} may be more than this data can bear (in its "
            f"units); try a smaller {param}, more epochs or a warm-up.",
            UserWarning,
            stacklevel=2,
        )
