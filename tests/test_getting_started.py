"""The getting-started page's "Your own data" blocks run as written and do what they say."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

PAGE = Path(__file__).resolve().parents[1] / "doc" / "getting_started.md"


def _blocks():
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_section_has_each_walkthrough():
    code = "\n".join(_blocks())
    for needle in ("clip=(0, 255)", "StandardScaler", "module__width", "ValidSplit"):
        assert needle in code


@pytest.fixture(scope="module")
def namespace():
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the page's data are in their ranges
        for block in _blocks():
            exec(compile(block, str(PAGE), "exec"), ns)
    return ns


def test_both_scales_give_comparable_models(namespace):
    ns = namespace
    from robustsk.metrics import corruption_accuracy

    names = ["gaussian_noise", "contrast"]
    X_test, y_test = ns["X_test"].astype(np.float32), ns["y_test"]
    # one seed for both scales: the same noise draws, scaled to each range (unseeded, the
    # two scores differed by more than 0.01 once, from the draws alone)
    kw = dict(corruptions=names, random_state=0)
    unit = corruption_accuracy(ns["clf"], X_test / 255.0, y_test, **kw)
    byte = corruption_accuracy(ns["on_bytes"], X_test, y_test, clip=(0, 255), **kw)
    assert unit > 0.5
    assert byte == pytest.approx(unit, abs=0.01)  # the same model, the same corruptions
    with pytest.warns(UserWarning, match="clip"):
        wrong = corruption_accuracy(ns["on_bytes"], X_test, y_test, **kw)
    assert wrong < unit - 0.2  # without the range the bytes are clipped to [0, 1]


def test_tabular_rpr_and_custom_module(namespace):
    ns = namespace
    assert ns["pipe"].score(ns["Xw"], ns["yw"]) > 0.9
    assert ns["net"].history[-1, "valid_acc"] > 0.8
    assert len(ns["net"].history) < 50  # early stopping ended training


def test_custom_module_width_is_a_parameter(namespace):
    from sklearn.base import clone

    est = namespace["NoiseTrainedClassifier"](namespace["SmallConv"], module__width=4)
    assert clone(est).get_params()["module__width"] == 4
    assert np.isfinite(namespace["net"].history[-1, "valid_loss"])
