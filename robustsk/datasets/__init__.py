"""Data sets: the embedded digits; MNIST, Fashion-MNIST, CIFAR-10/100 and SVHN from a local
folder; corrupted test sets; and the synthetic Watermarked MNIST and Doubled images of
contextual perturbation budgets."""

from ._cifar import load_cifar10, load_cifar100, read_cifar_batch
from ._corrupted import make_corrupted
from ._digits import load_digits_images
from ._doubled import make_doubled
from ._mnist import load_fashion_mnist, load_mnist, read_idx
from ._svhn import load_svhn
from ._watermarked import make_watermarked, watermark_accuracy, watermark_counterparts

__all__ = [
    "load_cifar10",
    "load_cifar100",
    "load_digits_images",
    "load_fashion_mnist",
    "load_mnist",
    "load_svhn",
    "make_corrupted",
    "make_doubled",
    "make_watermarked",
    "read_cifar_batch",
    "read_idx",
    "watermark_accuracy",
    "watermark_counterparts",
]
