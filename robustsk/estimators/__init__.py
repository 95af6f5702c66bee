"""scikit-learn estimators for robust training, each a skorch ``NeuralNetClassifier``
subclass that changes one training hook."""

from ._base import RobustNetClassifier
from ._noise import NoiseTrainedClassifier

__all__ = ["NoiseTrainedClassifier", "RobustNetClassifier"]
