import numpy as np
import pytest

from robustsk.perturb import (
    CORRUPTIONS,
    Corruption,
)


@pytest.mark.parametrize("shape", [(3, 1, 8, 8), (3, 1, 28, 28), (3, 3, 32, 32), (3, 8, 8)])
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_shape_range_and_seed(name, shape):
    X = np.random.default_rng(1).random(shape).astype(np.float32)
    out = Corruption(name, severity=3, random_state=0)(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, X)
    np.testing.assert_array_equal(out, Corruption(name, severity=3, random_state=0)(X))


def test_corruption_respects_a_custom_range_and_leaves_numpy_state():
    X = np.random.default_rng(1).random((2, 1, 8, 8)) * 2 - 1  # range [-1, 1]
    state = np.random.get_state()[1].copy()
    out = Corruption("fog", 2, clip=(-1, 1), random_state=0)(X)
    assert out.min() >= -1 and out.max() <= 1
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_corruption_severity_increases_damage():
    X = np.random.default_rng(1).random((20, 1, 28, 28)).astype(np.float32)
    damage = [
        np.abs(Corruption("gaussian_noise", s, random_state=0)(X) - X).mean() for s in (1, 3, 5)
    ]
    assert damage[0] < damage[1] < damage[2]


def test_corruption_bad_arguments():
    X = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="name must be one of"):
        Corruption("rain")(X)
    with pytest.raises(ValueError, match="severity must be in"):
        Corruption("fog", severity=6)(X)
    with pytest.raises(ValueError, match="images of shape"):
        Corruption("fog")(np.zeros((2, 64), dtype=np.float32))
