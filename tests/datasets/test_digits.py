import numpy as np

from robustsk.datasets import load_digits_images


def test_load_digits_images():
    data = load_digits_images()
    assert data.data.shape == (1797, 1, 8, 8) and data.data.dtype == np.float32
    assert data.data.min() == 0 and data.data.max() == 1
    assert set(np.unique(data.target)) == set(range(10))
