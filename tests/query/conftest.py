import pytest

from robustsk.estimators import NoiseTrainedClassifier


@pytest.fixture(scope="module")
def trained(digits):
    """A small net and the pool it was not trained on (the strategies' known answers)."""
    X_train, X_test, y_train, y_test = digits
    net = NoiseTrainedClassifier(
        max_epochs=3, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X_train[:400], y_train[:400])
    return net, X_train[400:], y_train[400:]
