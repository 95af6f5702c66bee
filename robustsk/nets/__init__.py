"""Reference networks. Each takes ``input_shape`` and ``n_classes``, which robustsk
estimators fill in from the training data when they are not given; the CIFAR-size ones
also take ``normalize=(mean, std)``, a :class:`Normalize` first layer that keeps every
eps, sigma and budget in pixel units."""

from ._cnn7 import CNN7
from ._lenet import LeNet5
from ._mlp import MLP
from ._normalize import CIFAR10_MEAN, CIFAR10_STD, SVHN_MEAN, SVHN_STD, Normalize
from ._residual import Residual, ResNet
from ._resnet import PreActBlock, PreActResNet18
from ._small_cnn import SmallCNN
from ._vgg import VGG8, VGG16

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CNN7",
    "LeNet5",
    "MLP",
    "Normalize",
    "PreActBlock",
    "PreActResNet18",
    "ResNet",
    "Residual",
    "SVHN_MEAN",
    "SVHN_STD",
    "SmallCNN",
    "VGG8",
    "VGG16",
]
