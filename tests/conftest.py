import numpy as np
import pytest
import torch

from robustsk.datasets import load_digits_images
from robustsk.estimators import RobustNetClassifier
from robustsk.nets import MLP


@pytest.fixture(autouse=True)
def _seed():
    """Tests are deterministic: seed the global generators tests themselves use."""
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def digits():
    """Digits as (n, 1, 8, 8) images in [0, 1], split 1,347 / 450, stratified."""
    from sklearn.model_selection import train_test_split

    X, y = load_digits_images(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


# RPR's models (tests/metrics/test_rpr*.py and tests/selection/test_robust_subset.py)
@pytest.fixture(scope="module")
def flat_digits(digits):
    X_train, X_test, y_train, y_test = digits
    return (X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1), y_train, y_test)


@pytest.fixture(scope="module")
def logreg(flat_digits):
    from sklearn.linear_model import LogisticRegression

    X_train, _, y_train, _ = flat_digits
    return LogisticRegression(max_iter=300).fit(X_train, y_train)


@pytest.fixture(scope="module")
def tiny_net(digits):
    X_train, _, y_train, _ = digits
    return RobustNetClassifier(
        MLP,
        module__hidden_units=(32,),
        max_epochs=2,
        lr=1e-2,
        verbose=0,
        random_state=0,
        device="cpu",
    ).fit(X_train, y_train)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
