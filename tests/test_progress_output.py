"""Progress bars outside the estimators: drawn on a terminal, left out of log files.

A bar redrawn into a file or a pipe fills it with carriage returns (and, in some
tqdm flavours, ANSI codes); with ``verbose`` set and stderr not a terminal nothing
of the bar is written, and with stderr a terminal the bar appears as before.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from robustsk.datasets import load_digits_images, make_corrupted
from robustsk.utils import is_interactive, map_pool, progress_bar


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def _corrupt():
    X, _ = load_digits_images(return_X_y=True)
    return make_corrupted(X[:5], ["gaussian_noise", "shot_noise"], random_state=0, verbose=1)


def _map():
    X = np.arange(12.0).reshape(12, 1)
    return map_pool(lambda x: x[:, 0], X, block_size=5, verbose=1, desc="scoring")


def _fitted():
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits_images(return_X_y=True)
    return LogisticRegression(max_iter=100).fit(X[:300].reshape(300, -1), y[:300]), X, y


def _smoothed():
    """SmoothedClassifier.certify with its default verbose: it ran 13 s for 40 images
    without a bar."""
    from sklearn.frozen import FrozenEstimator

    from robustsk.estimators import SmoothedClassifier

    model, X, y = _fitted()
    flat = X[:6].reshape(6, -1)
    smoothed = SmoothedClassifier(FrozenEstimator(model), n_draws=50, random_state=0)
    return smoothed.fit(flat, y[:6]).certify(flat)[1]


def _rpr():
    from robustsk.metrics import rpr_steps

    model, X, y = _fitted()
    return rpr_steps(model, X[:4].reshape(4, -1), y[:4], max_steps=3, random_state=0)


LONG_CALLS = [
    (_corrupt, "corrupting"),
    (_map, "scoring"),
    (_smoothed, "certify"),
    (_rpr, "rpr"),
]


@pytest.mark.parametrize("run, label", LONG_CALLS)
def test_verbose_progress_to_a_file_writes_no_bar(monkeypatch, run, label):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    result = run()
    assert len(result) > 0  # the work is done all the same
    written = err.getvalue()
    assert "\r" not in written and "\x1b" not in written
    assert label not in written


@pytest.mark.parametrize("run, label", LONG_CALLS)
def test_verbose_progress_to_a_terminal_draws_the_bar(monkeypatch, run, label):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    run()
    assert label in err.getvalue()


def test_map_pool_hands_a_counting_bar_to_fn_only_where_it_is_shown(monkeypatch):
    X = np.arange(12.0).reshape(12, 1)
    seen = []

    def fn(x, progress):
        seen.append(progress)
        if progress is not None:
            progress.update(len(x))
        return x[:, 0]

    monkeypatch.setattr(sys, "stderr", _Terminal())
    map_pool(fn, X, block_size=5, verbose=1, desc="unit", pass_progress=True)
    assert seen[-1] is not None and seen[-1].n == 12
    assert "12/12" in sys.stderr.getvalue()


def test_progress_bar_is_silent_without_verbose_and_follows_its_file():
    terminal, log = _Terminal(), io.StringIO()
    assert progress_bar(range(3), verbose=0, file=terminal).disable
    assert progress_bar(range(3), verbose=1, file=log).disable
    assert not progress_bar(range(3), verbose=1, file=terminal).disable
    assert list(progress_bar(range(3), verbose=1, file=log)) == [0, 1, 2]
    assert is_interactive(terminal) and not is_interactive(log) and not is_interactive(None)
