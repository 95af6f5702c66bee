"""Data sets: the embedded digits, MNIST from a local folder, corrupted test sets, and the
synthetic Watermarked MNIST and Doubled images of contextual perturbation budgets."""

from ._corrupted import make_corrupted
from ._digits import load_digits_images
from ._doubled import make_doubled
from ._mnist import load_mnist, read_idx
from ._watermarked import make_watermarked

__all__ = [
    "load_digits_images",
    "load_mnist",
    "make_corrupted",
    "make_doubled",
    "make_watermarked",
    "read_idx",
]
