"""Torch threads per job: joblib's process workers get their share of the cores with no
code of ours; thread-based backends are capped with ``torch_threads``."""

import os

import numpy as np
import pytest
import torch
from joblib import Parallel, cpu_count, delayed, parallel_config
from joblib._parallel_backends import LokyBackend
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV

from robustsk.utils._threads import torch_threads, worker_threads


class ThreadProbe(ClassifierMixin, BaseEstimator):
    """Records torch's thread count where ``fit`` runs."""

    def __init__(self, c=0):
        self.c = c

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.threads_ = torch.get_num_threads()
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):
        return float(self.threads_)  # the search's scores are the workers' thread counts


def test_worker_threads_is_joblibs_share_of_the_cores():
    assert worker_threads() == worker_threads(1) == cpu_count()
    assert worker_threads(-1) == 1
    assert worker_threads(2 * cpu_count()) == 1
    with parallel_config(n_jobs=2):
        assert worker_threads() == max(1, cpu_count() // 2)
    with pytest.raises(ValueError, match="n_jobs"):
        worker_threads(0)
    with pytest.raises(TypeError, match="n_jobs"):
        worker_threads(1.5)


def test_torch_threads_caps_and_restores_even_after_an_error():
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1, blas=False):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with parallel_config(n_jobs=2), torch_threads() as n:  # None: the share per job
        assert n == torch.get_num_threads() == max(1, cpu_count() // 2)
    for bad, err in ((0, ValueError), (1.5, TypeError), ("2", TypeError)):
        with pytest.raises(err, match="n_threads"):
            with torch_threads(bad):
                pass
    with pytest.raises(TypeError, match="blas"):
        with torch_threads(1, blas="yes"):
            pass
    assert torch.get_num_threads() == before


def test_torch_threads_caps_the_jobs_of_a_thread_based_backend():
    def threads(_):
        return torch.get_num_threads()

    with torch_threads(1):
        inside = Parallel(n_jobs=2, backend="threading")(delayed(threads)(i) for i in range(4))
    assert inside == [1] * 4


def test_plain_grid_search_gives_each_worker_process_its_share(monkeypatch):
    """The default backend's workers get cpu_count // n_jobs torch threads (joblib sets
    OMP_NUM_THREADS there; torch reads it), unless the parent's environment sets one."""
    for var in LokyBackend.MAX_NUM_THREADS_VARS:
        monkeypatch.delenv(var, raising=False)
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    search = GridSearchCV(ThreadProbe(), {"c": [0, 1]}, cv=2, n_jobs=2).fit(X, y)
    assert set(search.cv_results_["mean_test_score"]) == {worker_threads(2)}
    assert "OMP_NUM_THREADS" not in os.environ  # nothing leaked into this process
