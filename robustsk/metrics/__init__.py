"""Robustness metrics and scikit-learn scorers."""

from ._adversarial import (
    AdversarialScorer,
    adversarial_accuracy,
    adversarial_examples,
    adversarial_report,
)
from ._corruption import CorruptionScorer, corruption_accuracy
from ._rpr import RPRScorer, rpr_score, rpr_steps
from ._rpr_curve import plot_rpr_curve, rpr_curve
from ._smoothing import (
    CertifiedAccuracyScorer,
    certified_accuracy,
    certified_accuracy_curve,
    plot_certified_accuracy,
)
from ._verified import VerifiedErrorScorer, verified_error

# isort: split
# Shared with the other subpackages, not public API (hence not in __all__).
from ._rpr import validate_rpr_args as validate_rpr_args

__all__ = [
    "AdversarialScorer",
    "CertifiedAccuracyScorer",
    "CorruptionScorer",
    "RPRScorer",
    "adversarial_accuracy",
    "adversarial_examples",
    "adversarial_report",
    "certified_accuracy",
    "certified_accuracy_curve",
    "corruption_accuracy",
    "plot_certified_accuracy",
    "plot_rpr_curve",
    "rpr_curve",
    "rpr_score",
    "rpr_steps",
    "VerifiedErrorScorer",
    "verified_error",
]
