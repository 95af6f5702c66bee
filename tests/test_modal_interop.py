"""robustsk strategies inside modAL's own ActiveLearner (CI installs modAL with --no-deps)."""

import numpy as np
import pytest

modal_models = pytest.importorskip("modAL.models")

from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402
from robustsk.query import coreset, dre, noise_entropy  # noqa: E402


@pytest.mark.parametrize(
    "strategy, kw", [(dre, {}), (coreset, {}), (noise_entropy, {"n_noise": 5})]
)
def test_modal_learner_queries_with_robustsk_strategies(digits, strategy, kw):
    X_train, _, y_train, _ = digits
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return strategy(*args, **kwargs)

    learner = modal_models.ActiveLearner(
        estimator=NoiseTrainedClassifier(max_epochs=1, verbose=0, random_state=0),
        query_strategy=counted,
        X_training=X_train[:100],
        y_training=y_train[:100],
    )
    query_idx, query_inst = learner.query(X_train[100:], n_instances=5, **kw)
    assert len(calls) == 1  # unpacking (indices, scores) worked: no silent second call
    assert query_idx.shape == (5,) and len(set(query_idx.tolist())) == 5
    np.testing.assert_array_equal(query_inst, X_train[100:][query_idx])
