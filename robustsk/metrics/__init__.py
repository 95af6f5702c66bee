"""Robustness metrics and scikit-learn scorers."""

from ._adversarial import AdversarialScorer, adversarial_accuracy, adversarial_examples
from ._corruption import CorruptionScorer, corruption_accuracy

__all__ = ["AdversarialScorer", "CorruptionScorer", "adversarial_accuracy", "adversarial_examples",
           "corruption_accuracy"]
