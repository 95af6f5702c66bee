"""scikit-learn estimators for robust training, each a skorch ``NeuralNetClassifier``
subclass that changes one training hook, and the smoothing meta-estimator that certifies
any of them (or any classifier) in L2."""

from ._adversarial import AdversarialClassifier
from ._base import RobustNetClassifier
from ._certified import CertifiedBudgetClassifier
from ._noise import NoiseTrainedClassifier
from ._smoothed import SmoothedClassifier

__all__ = [
    "AdversarialClassifier",
    "CertifiedBudgetClassifier",
    "NoiseTrainedClassifier",
    "RobustNetClassifier",
    "SmoothedClassifier",
]
