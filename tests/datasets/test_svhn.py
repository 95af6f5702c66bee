"""The SVHN loader, on small .mat files written as distributed (MATLAB 5)."""

import numpy as np
import pytest

from robustsk.datasets import load_svhn


def test_svhn_reads_the_mat_files_and_maps_label_10_to_0(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(32, 32, 3, 6), dtype=np.uint8)  # as distributed
    labels = np.array([[10], [1], [2], [9], [10], [5]], dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": images, "y": labels})
    X, y = load_svhn(tmp_path, return_X_y=True)
    assert X.shape == (6, 3, 32, 32) and X.dtype == np.float32
    assert y.tolist() == [0, 1, 2, 9, 0, 5]
    for n, c, h, w in [(0, 0, 0, 0), (3, 1, 17, 2), (5, 2, 31, 31)]:
        assert X[n, c, h, w] == np.float32(images[h, w, c, n]) / np.float32(255)
    X2, y2 = load_svhn(tmp_path, n_samples=2, return_X_y=True)
    np.testing.assert_array_equal(X2, X[:2])
    with pytest.raises(FileNotFoundError, match="test_32x32.mat"):
        load_svhn(tmp_path, subset="test")
    (tmp_path / "extra_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not an SVHN .mat file"):
        load_svhn(tmp_path, subset="extra")
