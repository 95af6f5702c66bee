"""scikit-learn estimators for robust training, each a skorch ``NeuralNetClassifier``
subclass that changes one training hook."""

from ._adversarial import AdversarialClassifier
from ._base import RobustNetClassifier
from ._certified import CertifiedBudgetClassifier
from ._noise import NoiseTrainedClassifier

__all__ = [
    "AdversarialClassifier",
    "CertifiedBudgetClassifier",
    "NoiseTrainedClassifier",
    "RobustNetClassifier",
]
