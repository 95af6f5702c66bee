import numpy as np
import pytest
import torch

from robustsk.datasets import load_digits_images


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


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
