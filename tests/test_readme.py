"""The README's Python blocks run as written, in order, in a fresh folder."""

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_its_three_blocks():
    code = "\n".join(_blocks())
    for needle in ("GridSearchCV", "ActiveLearner", "PerturbationLevelLearner"):
        assert needle in code


@pytest.mark.slow
def test_every_readme_block_runs_as_written(tmp_path, monkeypatch):
    """Every name a block uses is defined by it or an earlier one (the active-learning
    block used X0, y0 and X_pool undefined), and no adversarial fit ends at chance (eps=0.3
    on the 8x8 digits trained to 0.098)."""
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ends its fit at chance")
        for block in _blocks():
            exec(compile(block, str(README), "exec"), ns)
    assert (tmp_path / "answers.jsonl").stat().st_size > 0  # the answers were journaled
    from robustsk.metrics import adversarial_accuracy

    robust, X_test, y_test = ns["robust"], ns["X_test"], ns["y_test"]
    assert robust.score(X_test, y_test) > 0.5  # measured 0.82 after the 200 answers
    assert (
        adversarial_accuracy(robust, X_test, y_test, eps=0.1, steps=10, random_state=0) > 0.3
    )  # 0.64
