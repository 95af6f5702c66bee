"""robustsk's batch strategies select as scikit-activeml's on the same inputs (optional
install: ``pip install --no-deps scikit-activeml makefun``, as CI does)."""

import numpy as np
import pytest

pool_module = pytest.importorskip("skactiveml.pool")

from robustsk import query as Q  # noqa: E402


class Embedder:
    """A classifier whose 'probabilities' are its inputs: the embeddings are the data."""

    classes_ = np.arange(3)

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)


def test_batchbald_matches_skactiveml_batch_bald():
    from skactiveml.pool._bald import batch_bald

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(3, 0.5), size=(40, 8))  # (N, K, C)
    probs = np.clip(probs, 1e-7, 1)  # scikit-activeml clips at eps=1e-7
    probs /= probs.sum(axis=2, keepdims=True)
    ours, mi = Q.batchbald_select(probs, 4, np.random.default_rng(0), max_configs=10**6)
    # n_MC_samples: the configurations scikit-activeml keeps; enough for its exact joint
    utilities = batch_bald(
        np.transpose(probs, (1, 0, 2)), batch_size=4, n_MC_samples=10**5, random_state=0
    )
    theirs = np.nanargmax(utilities, axis=1)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(mi, utilities[np.arange(4), theirs], rtol=1e-6)


def _blobs():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
    sizes = [50, 35, 25, 15]
    return np.vstack([c + rng.normal(scale=0.6, size=(n, 2)) for c, n in zip(centres, sizes)])


def test_typiclust_matches_skactiveml():
    """The paper's k=20 neighbours (scikit-activeml's default is 5)."""
    X = _blobs()
    y = np.full(len(X), np.nan)
    theirs = pool_module.TypiClust(k=20, random_state=0).query(X, y, batch_size=4)
    ours, _ = Q.typiclust(Embedder(), X, 4, random_state=0)
    np.testing.assert_array_equal(ours, theirs)
    # with a labelled example in the largest cluster, as scikit-activeml counts it covered
    y[0] = 0
    theirs = pool_module.TypiClust(k=20, random_state=0).query(X, y, batch_size=3)
    ours, _ = Q.typiclust(Embedder(), X[1:], 3, X_labeled=X[:1], random_state=0)
    np.testing.assert_array_equal(ours + 1, theirs)


@pytest.mark.filterwarnings("ignore:The maximum purity")  # one delta given: no search
def test_probcover_matches_skactiveml():
    """Coverage gains are integers, so both libraries break ties at random: each of
    robustsk's greedy picks is checked against scikit-activeml's utilities for the same
    labelled set (robustsk's earlier picks), and its gain is their maximum."""
    X = np.random.default_rng(2).random((150, 2))
    delta = 0.12
    ours, gains = Q.probcover(Embedder(), X, 6, delta=delta, normalize=False, random_state=0)
    assert (gains > 0).all()  # every pick before full coverage
    for b in range(6):
        y = np.full(len(X), np.nan)
        y[ours[:b]] = 0
        _, utilities = pool_module.ProbCover(deltas=[delta], random_state=0).query(
            X, y, batch_size=1, return_utilities=True
        )
        best = np.nanmax(utilities[0])
        assert utilities[0][ours[b]] == best == gains[b]
