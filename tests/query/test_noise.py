"""Known answers for the noise strategies' maths (noise_entropy, noise_uncertainty,
noisy_predictions)."""

import numpy as np
import pytest
import torch

from robustsk import query as Q
from robustsk.query import noisy_predictions
from robustsk.query._scores import label_entropy_scores


def test_noise_entropy_splits_between_excessive_and_deficient_levels(trained):
    net, pool, _ = trained
    sigma = np.where(np.arange(len(pool)) % 2 == 0, 0.0, 1.0)
    idx, entropy = Q.noise_entropy(net, pool, 20, sample_sigma=sigma, n_draws=20, random_state=0)
    high, low = idx[:10], idx[10:]
    assert (sigma[high] == 1.0).all() and (sigma[low] == 0.0).all()
    np.testing.assert_array_equal(entropy[10:], 0.0)  # no noise: always the same label
    assert (entropy[:10] > 0.5).all()


def test_noise_strategies_use_the_estimator_levels(trained):
    net, pool, _ = trained
    with pytest.raises(ValueError, match="sample_sigma"):
        Q.noise_entropy(net, pool, 4, sample_sigma=np.ones(3))
    with pytest.raises(ValueError, match="sample_sigma must be in"):
        Q.noise_uncertainty(net, pool, 4, sample_sigma=-1.0)
    # default: the scalar sigma of a NoiseTrainedClassifier
    a = Q.noise_uncertainty(net, pool, 4, n_draws=5, random_state=0)
    b = Q.noise_uncertainty(net, pool, 4, n_draws=5, sample_sigma=net.sigma, random_state=0)
    np.testing.assert_array_equal(a[0], b[0])


def test_entropy_rises_with_sigma_on_a_linear_model():
    """Theorem 1: for a linear classifier, classification entropy grows with sigma."""
    torch.manual_seed(0)

    class Linear:
        module_ = torch.nn.Linear(16, 2)
        device = "cpu"
        input_shape_ = (16,)

    x = np.full((1, 16), 0.5, dtype=np.float32)
    entropies = []
    for sigma in (0.4, 0.6, 1.0, 2.0):  # from near-certain to near-chance decisions
        labels = noisy_predictions(
            Linear(), x, np.array([sigma], np.float32), n_draws=4000, random_state=0, clip=None
        )
        entropies.append(label_entropy_scores(labels, 2)[0])
    assert all(a < b for a, b in zip(entropies, entropies[1:]))
