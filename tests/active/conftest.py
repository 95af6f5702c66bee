import pytest

from robustsk.estimators import NoiseTrainedClassifier


@pytest.fixture(scope="module")
def reference(digits):
    """The simulated annotator's reference model (test_oracles.py, test_level_learner.py)."""
    X_train, _, y_train, _ = digits
    return NoiseTrainedClassifier(
        sigma=0.4, max_epochs=10, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X_train, y_train)
