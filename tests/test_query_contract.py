"""One template that every acquisition strategy goes through: contract, errors, reproducibility."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier

from robustsk import query as Q
from robustsk.active import ActiveLearner
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.nets import LeNet5, SmallCNN


@pytest.fixture(scope="module")
def setting(digits):
    X_train, X_test, y_train, _ = digits
    net = NoiseTrainedClassifier(
        LeNet5, max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X_train[:300], y_train[:300])
    flat = LogisticRegression(max_iter=300).fit(X_train[:300].reshape(300, -1), y_train[:300])
    # a plain skorch net with skorch's defaults: NLLLoss, a module that outputs probabilities
    skorch_net = NeuralNetClassifier(
        SoftmaxCNN, max_epochs=2, lr=0.1, train_split=None, verbose=0
    ).fit(X_train[:300], y_train[:300])
    return dict(
        net=net,
        flat=flat,
        skorch_net=skorch_net,
        pool=X_test[:120],
        X_labeled=X_train[:300],
        y_labeled=y_train[:300],
    )


@pytest.fixture(scope="module")
def colour_setting():
    """3 x 32 x 32 images (CIFAR-10's shape) and a small conv net trained on them."""
    rng = np.random.default_rng(0)
    X = rng.random((100, 3, 32, 32), dtype=np.float32)
    y = np.arange(100) % 10
    net = NoiseTrainedClassifier(
        SmallCNN, max_epochs=1, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X[:60], y[:60])
    return dict(net=net, pool=X[60:])


class SoftmaxCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.out = torch.nn.Linear(4 * 64, 10)

    def forward(self, x):
        return torch.softmax(self.out(torch.relu(self.conv(x)).flatten(1)), dim=1)


class StrategyTemplate:
    """Subclasses set ``strategy`` (and ``needs_torch`` / ``kwargs``)."""

    strategy = None
    needs_torch = False
    seeded = False  # draws randomness while scoring (one seed per joblib block)
    kwargs = {}

    def call(self, classifier, pool, n, **extra):
        return type(self).strategy(classifier, pool, n, **{**self.kwargs, **extra})

    def test_contract(self, setting):
        idx, scores = self.call(setting["net"], setting["pool"], 7, random_state=0)
        assert isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.shape == (7,)
        assert len(np.unique(idx)) == 7
        assert idx.min() >= 0 and idx.max() < len(setting["pool"])
        assert np.asarray(scores).shape == (7,)

    def test_contract_on_colour_images(self, colour_setting):
        """The same contract on 3 x 32 x 32 images, CIFAR-10's shape."""
        pool = colour_setting["pool"]
        idx, scores = self.call(colour_setting["net"], pool, 7, random_state=0)
        assert idx.dtype == np.int64 and idx.shape == (7,) and len(np.unique(idx)) == 7
        assert idx.min() >= 0 and idx.max() < len(pool) and np.asarray(scores).shape == (7,)

    def test_reproducible_under_random_state(self, setting):
        a = self.call(setting["net"], setting["pool"], 9, random_state=3)
        b = self.call(setting["net"], setting["pool"], 9, random_state=3)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])

    def test_whole_pool(self, setting):
        pool = setting["pool"][:30]
        idx, _ = self.call(setting["net"], pool, 30, random_state=0)
        np.testing.assert_array_equal(np.sort(idx), np.arange(30))

    @pytest.mark.parametrize(
        "n, err",
        [(0, ValueError), (-2, ValueError), (121, ValueError), (2.5, TypeError), (True, TypeError)],
    )
    def test_bad_n_instances(self, setting, n, err):
        with pytest.raises(err, match="n_instances"):
            self.call(setting["net"], setting["pool"], n)

    def test_inside_an_active_learner(self, setting):
        learner = ActiveLearner(setting["net"], type(self).strategy, random_state=0)
        idx, inst = learner.query(setting["pool"], n_instances=5, **self.kwargs)
        assert idx.shape == (5,) and inst.shape == (5, 1, 8, 8)

    def test_plain_skorch_net(self, setting):
        idx, scores = self.call(setting["skorch_net"], setting["pool"], 6, random_state=0)
        assert len(np.unique(idx)) == 6 and np.isfinite(np.asarray(scores, float)).any()

    def test_sklearn_classifier(self, setting):
        pool = setting["pool"].reshape(len(setting["pool"]), -1)
        if self.needs_torch:
            with pytest.raises(TypeError, match="torch network"):
                self.call(setting["flat"], pool, 3)
        else:
            idx, _ = self.call(setting["flat"], pool, 3, random_state=0)
            assert len(np.unique(idx)) == 3

    def test_parallel_pool_scoring(self, setting):
        """Blocks through joblib processes: the same answer for any n_jobs; the sequential
        path gives the same scores when scoring draws no randomness."""
        pool = setting["pool"]
        kw = dict(random_state=4, block_size=50)
        two = self.call(setting["net"], pool, 9, n_jobs=2, **kw)  # joblib worker processes
        three = self.call(setting["net"], pool, 9, n_jobs=1, **kw)  # in this process
        np.testing.assert_array_equal(two[0], three[0])
        np.testing.assert_allclose(two[1], three[1], rtol=1e-5)  # thread counts differ
        if not self.seeded:
            here = self.call(setting["net"], pool, 9, random_state=4)
            assert len(np.intersect1d(here[0], two[0])) >= 7
            np.testing.assert_allclose(np.sort(here[1]), np.sort(two[1]), rtol=1e-4, atol=1e-6)
        with pytest.raises(ValueError, match="n_jobs"):
            self.call(setting["net"], pool, 3, n_jobs=0)
        with pytest.raises(ValueError, match="block_size"):
            self.call(setting["net"], pool, 3, n_jobs=1, block_size=0)
        with pytest.raises(TypeError, match="n_jobs"):
            self.call(setting["net"], pool, 3, n_jobs=1.5)


class TestRandom(StrategyTemplate):
    strategy = Q.random
    test_parallel_pool_scoring = None  # no model, nothing to score


class TestMaxEntropy(StrategyTemplate):
    strategy = Q.max_entropy


class TestLeastConfidence(StrategyTemplate):
    strategy = Q.least_confidence


class TestMargin(StrategyTemplate):
    strategy = Q.margin


class TestDeepGini(StrategyTemplate):
    strategy = Q.deepgini


class TestBald(StrategyTemplate):
    strategy = Q.bald
    needs_torch = True
    seeded = True


class TestDropoutEntropy(StrategyTemplate):
    strategy = Q.dropout_entropy
    needs_torch = True
    seeded = True


class TestEgl(StrategyTemplate):
    strategy = Q.egl
    needs_torch = True


class TestDfal(StrategyTemplate):
    strategy = Q.dfal
    needs_torch = True
    kwargs = {"max_iter": 10}


class TestMcp(StrategyTemplate):
    strategy = Q.mcp


class TestCoreset(StrategyTemplate):
    strategy = Q.coreset


class TestDre(StrategyTemplate):
    strategy = Q.dre


class TestNoiseEntropy(StrategyTemplate):
    strategy = Q.noise_entropy
    seeded = True
    kwargs = {"sample_sigma": 0.3, "n_draws": 10}


class TestCleanUncertainty(StrategyTemplate):
    strategy = Q.clean_uncertainty


class TestNoiseUncertainty(StrategyTemplate):
    strategy = Q.noise_uncertainty
    seeded = True
    kwargs = {"sample_sigma": 0.3, "n_draws": 10}


class TestBadge(StrategyTemplate):
    strategy = Q.badge
    needs_torch = True
    seeded = True  # k-means++ draws its centres


class TestBatchBald(StrategyTemplate):
    strategy = Q.batchbald
    needs_torch = True
    kwargs = {"n_draws": 8, "max_configs": 256}
    test_parallel_pool_scoring = None  # one pass over the pool, then the greedy joint


class TestTypiclust(StrategyTemplate):
    strategy = Q.typiclust
    seeded = True  # k-means

    def test_parallel_pool_scoring(self, setting):
        """Embeddings from worker processes differ from this process's in the last float32
        bits (other thread counts), which can move a point across a k-means boundary: the
        selections agree on all but at most one pick (measured: 8 of 9)."""
        kw = dict(random_state=4, block_size=50)
        two = self.call(setting["net"], setting["pool"], 9, n_jobs=2, **kw)
        one = self.call(setting["net"], setting["pool"], 9, n_jobs=1, **kw)
        assert len(np.intersect1d(two[0], one[0])) >= 8


class TestProbcover(StrategyTemplate):
    strategy = Q.probcover
    seeded = True  # k-means of the purity rule, random ties


class TestPowerBald(StrategyTemplate):
    strategy = Q.power_bald
    needs_torch = True
    seeded = True


class TestPowerEntropy(StrategyTemplate):
    strategy = Q.power_entropy
    seeded = True  # the batch is sampled


class TestSubsampledMaxEntropy(StrategyTemplate):
    strategy = Q.subsample(Q.max_entropy, 60)


class TestSubsampledDre(StrategyTemplate):
    strategy = Q.subsample(Q.dre, 0.5)


def test_every_exported_strategy_is_covered():
    covered = {cls.strategy.__name__ for cls in StrategyTemplate.__subclasses__()}
    named = {
        f.__name__
        for f in {**Q.ROBUST_AL_STRATEGIES, **Q.AQPL_STRATEGIES, **Q.BATCH_STRATEGIES}.values()
    }
    assert named <= covered and len(Q.ROBUST_AL_STRATEGIES) == 12
