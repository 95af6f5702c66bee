"""Data sets: the embedded digits, MNIST from a local folder, corrupted test sets."""

from ._corrupted import make_corrupted
from ._digits import load_digits_images
from ._mnist import load_mnist, read_idx

__all__ = ["load_digits_images", "load_mnist", "make_corrupted", "read_idx"]
