import numpy as np
import pytest

from robustsk.perturb import (
    make_sigma_ladder,
    noise_ladder,
)


def test_sigma_ladder_defaults_match_the_protocol():
    ladder = make_sigma_ladder()
    assert len(ladder) == 91 and ladder[0] == 0 and ladder[-1] == 0.9
    np.testing.assert_allclose(np.diff(ladder), 0.01)


def test_noise_ladder_is_monotone_in_distance():
    x = np.full((1, 8, 8), 0.5, dtype=np.float32)
    sigmas = [0.0, 0.05, 0.1, 0.2]
    ladder = noise_ladder(x, sigmas, clip=None, random_state=0)
    assert ladder.shape == (4, 1, 8, 8)
    np.testing.assert_array_equal(ladder[0], x)
    dist = np.abs(ladder - x).reshape(4, -1).sum(axis=1)
    assert np.all(np.diff(dist) > 0)
    # one noise pattern scaled: rung 3 minus x is twice rung 2 minus x
    np.testing.assert_allclose(ladder[3] - x, 2 * (ladder[2] - x), atol=1e-6)


def test_noise_ladder_bad_sigmas():
    with pytest.raises(ValueError, match="sigmas"):
        noise_ladder(np.zeros(4), [0.1, -0.2])
    with pytest.raises(ValueError, match="sigmas"):
        noise_ladder(np.zeros(4), [])
