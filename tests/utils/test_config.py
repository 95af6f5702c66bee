"""Global inference options: set, scoped, per thread, carried into pool workers, and what
they change in the engines (bfloat16 within its stated tolerance, channels_last and
compile the same up to float rounding)."""

import threading

import joblib
import numpy as np
import pytest
import torch

import robustsk
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.nets import LeNet5
from robustsk.query import noisy_predictions
from robustsk.utils import TorchClassifier, config_context, get_config, map_pool, set_config


def test_defaults_set_and_scoped():
    assert get_config() == {
        "inference_precision": "float32",
        "inference_channels_last": False,
        "inference_compile": False,
    }
    with config_context(inference_precision="bfloat16", inference_channels_last=True):
        assert get_config()["inference_precision"] == "bfloat16"
        with config_context(inference_compile=True):
            assert get_config()["inference_compile"] and get_config()["inference_channels_last"]
        assert not get_config()["inference_compile"]
    assert get_config()["inference_precision"] == "float32"
    try:
        set_config(inference_precision="float16")
        assert robustsk.get_config()["inference_precision"] == "float16"  # the top-level names
    finally:
        set_config(inference_precision="float32")
    with pytest.raises(ValueError, match="inference_precision must be one of float32, bfloat16"):
        set_config(inference_precision="int8")
    with pytest.raises(TypeError, match="inference_compile must be a bool, got 1"):
        set_config(inference_compile=1)
    with pytest.raises(TypeError, match="unknown options \\['precision'\\]"):
        with config_context(precision="bfloat16"):
            pass
    with pytest.raises(RuntimeError):  # restored on error too
        with config_context(inference_precision="bfloat16"):
            raise RuntimeError
    assert get_config()["inference_precision"] == "float32"


def _precision(X):
    return np.full(len(X), get_config()["inference_precision"], dtype=object)


def test_options_are_per_thread_and_carried_into_pool_workers():
    seen = {}
    with config_context(inference_precision="bfloat16"):
        thread = threading.Thread(target=lambda: seen.update(get_config()))
        thread.start()
        thread.join()
        assert seen["inference_precision"] == "float32"  # another thread: its own options
        with joblib.parallel_backend("threading", n_jobs=2):
            got = map_pool(_precision, np.zeros((8, 2)), n_jobs=2, block_size=2)
    assert got.tolist() == ["bfloat16"] * 8  # the caller's options, in every worker


@pytest.fixture(scope="module")
def lenet():
    rng = np.random.default_rng(0)
    X = rng.random((256, 1, 28, 28)).astype(np.float32)
    y = (X[:, 0, :14].mean(axis=(1, 2)) > X[:, 0, 14:].mean(axis=(1, 2))).astype(np.int64)
    model = NoiseTrainedClassifier(LeNet5, sigma=0.2, max_epochs=2, verbose=0, random_state=0).fit(
        X, y
    )
    return model, X


def test_channels_last_and_bfloat16_in_the_network_pass(lenet):
    model, X = lenet
    net = TorchClassifier(model, "test")
    with net.evaluating(), torch.no_grad():
        base = net.output(X)
        with config_context(inference_channels_last=True):
            nhwc = net.output(X)
        with config_context(inference_precision="bfloat16"):
            bf16 = net.output(X)
    assert nhwc.dtype == bf16.dtype == torch.float32
    torch.testing.assert_close(nhwc, base, rtol=1e-5, atol=1e-5)
    # bfloat16 keeps 8 bits of mantissa: logits within a few hundredths, decisions agree
    assert (bf16 - base).abs().max() < 0.1
    assert (bf16.argmax(1) == base.argmax(1)).float().mean() >= 0.98


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_gives_the_same_outputs(lenet):
    model, X = lenet
    net = TorchClassifier(model, "test")
    with net.evaluating(), torch.no_grad():
        base = net.output(X[:64])
        with config_context(inference_compile=True):
            first = net.output(X[:64])
            other_size = net.output(X[:40])  # a new batch size: no error, same values
    torch.testing.assert_close(first, base, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(other_size, base[:40], rtol=1e-4, atol=1e-4)


def test_pool_scoring_under_bfloat16_stays_within_its_tolerance(lenet):
    model, X = lenet
    kwargs = dict(sigma=np.full(len(X), 0.3), n_draws=8, random_state=0, output="both")
    labels, entropy = noisy_predictions(model, X, **kwargs)
    with config_context(inference_precision="bfloat16"):
        labels16, entropy16 = noisy_predictions(model, X, **kwargs)
    assert (labels16 == labels).mean() >= 0.98  # the same noise draws, near-ties aside
    assert np.abs(entropy16 - entropy).max() < 0.1
