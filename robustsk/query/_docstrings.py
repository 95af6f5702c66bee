"""Parameter descriptions shared by the acquisition strategies' docstrings.

A strategy's docstring names a shared block by a placeholder (``{pool}``) and
``@fill_doc(**PARTS)`` (robustsk's one docstring filler, in ``robustsk.utils``)
substitutes the text, so each description is written once.
"""

from __future__ import annotations

PARTS = {
    "proba_classifier": """classifier : fitted classifier with ``predict_proba``
        A robustsk estimator, a skorch net, any scikit-learn classifier, or an
        active learner wrapping one.""",
    "torch_classifier": (
        "classifier : fitted robustsk estimator or skorch net (or a learner wrapping one)"
    ),
    "pool": """X_pool : array-like of shape (n_pool, ...)
        Candidates.
    n_instances : int, default=1
        How many to select, in ``[1, n_pool]``.""",
    "parallel": """n_jobs : int or None, default=None
        joblib jobs scoring the pool's blocks (:func:`robustsk.query.map_pool`;
        any joblib backend, e.g. Dask). As in scikit-learn, None means 1
        unless in a ``joblib.parallel_config`` context and -1 means all
        cores; the selection is the same for every ``n_jobs``.
    block_size : int, default=8192
        Pool rows per block (per joblib task); randomness drawn while scoring
        is seeded per block, so the block layout, not ``n_jobs``, fixes it.""",
}
