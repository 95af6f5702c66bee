"""Acquisition strategies, modAL-compatible.

Every strategy has one signature::

    strategy(classifier, X_pool, n_instances=1, *, random_state=None, **kw) -> (indices, scores)

and works with robustsk estimators, skorch nets, scikit-learn classifiers and
active learners (modAL's ``ActiveLearner`` or :class:`robustsk.active.ActiveLearner`)
wrapping them. Strategies that need a torch network (``bald``,
``dropout_entropy``, ``egl``, ``dfal``) raise a ``TypeError`` for other
classifiers. Per-example score functions on probability arrays are exported
too (``entropy_scores`` ...).
"""

from ..utils import map_pool
from ._badge import badge, kmeans_pp_factored

# Shared with the other subpackages, not public API (hence not in __all__): the strategy
# contract's checks, for the active learners that call custom strategies.
from ._base import (
    check_pool as check_pool,
    check_strategy_output as check_strategy_output,
    query_strategy as query_strategy,
)
from ._batchbald import batchbald, batchbald_select
from ._bias import CHARACTERISTICS, jensen_shannon, selection_bias
from ._committee import (
    CommitteeClassifier,
    committee_proba,
    ensemble_bald,
    ensemble_bald_scores,
    max_disagreement,
    max_disagreement_scores,
    vote_entropy,
    vote_entropy_scores,
)
from ._coreset import coreset, greedy_k_center
from ._dfal import dfal
from ._dre import dre, dre_select
from ._egl import egl, egl_scores
from ._embeddings import penultimate_embeddings
from ._mc_dropout import bald, dropout_entropy, mc_dropout_probs, with_mc_dropout
from ._mcp import mcp
from ._noise import noise_entropy, noise_uncertainty, noisy_predictions
from ._power import power_bald, power_entropy, power_select
from ._probcover import probcover, purity_delta
from ._scores import (
    bald_scores,
    entropy_scores,
    gini_scores,
    label_entropy_scores,
    least_confidence_scores,
    margin_scores,
)
from ._subsample import SubsampledStrategy, subsample
from ._typiclust import typicality, typiclust
from ._uncertainty import (
    clean_uncertainty,
    deepgini,
    least_confidence,
    margin,
    max_entropy,
    random_sampling,
)

#: Short name used as ``from robustsk.query import random``.
random = random_sampling

#: The robust-AL paper's 11 acquisition functions plus DRE, by name.
ROBUST_AL_STRATEGIES = {
    "random": random_sampling,
    "max_entropy": max_entropy,
    "least_confidence": least_confidence,
    "margin": margin,
    "deepgini": deepgini,
    "bald": bald,
    "dropout_entropy": dropout_entropy,
    "egl": egl,
    "dfal": dfal,
    "mcp": mcp,
    "coreset": coreset,
    "dre": dre,
}

#: Batch-diverse and low-budget strategies beyond the papers, by name.
BATCH_STRATEGIES = {
    "badge": badge,
    "batchbald": batchbald,
    "typiclust": typiclust,
    "probcover": probcover,
    "power_bald": power_bald,
    "power_entropy": power_entropy,
}

#: AQPL's selection strategies, by name.
AQPL_STRATEGIES = {
    "random": random_sampling,
    "clean_uncertainty": clean_uncertainty,
    "noise_uncertainty": noise_uncertainty,
    "noise_entropy": noise_entropy,
}

__all__ = [
    "AQPL_STRATEGIES",
    "BATCH_STRATEGIES",
    "CHARACTERISTICS",
    "CommitteeClassifier",
    "ROBUST_AL_STRATEGIES",
    "SubsampledStrategy",
    "badge",
    "bald",
    "bald_scores",
    "batchbald",
    "batchbald_select",
    "clean_uncertainty",
    "committee_proba",
    "coreset",
    "deepgini",
    "dfal",
    "dre",
    "dre_select",
    "dropout_entropy",
    "egl",
    "egl_scores",
    "ensemble_bald",
    "ensemble_bald_scores",
    "entropy_scores",
    "gini_scores",
    "greedy_k_center",
    "jensen_shannon",
    "kmeans_pp_factored",
    "label_entropy_scores",
    "least_confidence",
    "least_confidence_scores",
    "map_pool",
    "margin",
    "margin_scores",
    "max_disagreement",
    "max_disagreement_scores",
    "max_entropy",
    "mc_dropout_probs",
    "mcp",
    "noise_entropy",
    "noise_uncertainty",
    "noisy_predictions",
    "penultimate_embeddings",
    "power_bald",
    "power_entropy",
    "power_select",
    "probcover",
    "purity_delta",
    "random",
    "random_sampling",
    "selection_bias",
    "subsample",
    "typicality",
    "typiclust",
    "vote_entropy",
    "vote_entropy_scores",
    "with_mc_dropout",
]
