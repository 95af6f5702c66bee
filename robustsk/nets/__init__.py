"""Reference networks. Each takes ``input_shape`` and ``n_classes``, which robustsk
estimators fill in from the training data when they are not given."""

from ._lenet import LeNet5
from ._mlp import MLP
from ._small_cnn import SmallCNN

__all__ = ["LeNet5", "MLP", "SmallCNN"]
