"""A device this torch cannot use fails early, with the devices available."""

import numpy as np
import pytest
import torch

from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
)
from robustsk.utils import available_devices, check_device

ESTIMATORS = [NoiseTrainedClassifier, AdversarialClassifier, CertifiedBudgetClassifier]
PAST_LAST_GPU = f"cuda:{torch.cuda.device_count() + 3}"
UNUSABLE = [PAST_LAST_GPU, "tpu", "meta", "cuda:x"]
if not torch.cuda.is_available():
    UNUSABLE += ["cuda", torch.device("cuda")]


def test_available_devices_lists_what_torch_can_use():
    devices = available_devices()
    assert devices[0] == "cpu"
    assert sum(d.startswith("cuda") for d in devices) == torch.cuda.device_count()
    for device in devices:
        check_device(device)  # every listed device passes


@pytest.mark.parametrize("device", ["auto", "cpu", None, torch.device("cpu")])
def test_usable_devices_pass(device):
    check_device(device)


@pytest.mark.parametrize("device", UNUSABLE, ids=str)
def test_unusable_devices_name_the_value_and_the_devices_available(device):
    with pytest.raises(ValueError, match=r"device=.*'cpu'") as info:
        check_device(device)
    assert repr(device) in str(info.value)


@pytest.mark.parametrize("device", [3, 1.5, ["cpu"]], ids=str)
def test_a_device_of_the_wrong_type_is_a_type_error(device):
    with pytest.raises(TypeError, match="device must be a str or torch.device"):
        check_device(device)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("device", UNUSABLE[:2] + UNUSABLE[-1:], ids=str)
def test_estimators_refuse_the_device_before_any_work(estimator, device, monkeypatch):
    X = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    y = np.arange(20) % 2
    clf = estimator(device=device, max_epochs=1, verbose=0)
    assert clf.get_params()["device"] is device  # stored unchanged at construction
    touched = []
    monkeypatch.setattr(type(clf), "_check_X", lambda *a, **k: touched.append(1))
    with pytest.raises(ValueError, match="devices available: 'cpu'"):
        clf.fit(X, y)
    assert not touched and not clf.initialized_  # no data loaded, nothing built
    with pytest.raises(ValueError, match="devices available"):
        estimator(device=device).initialize()
