"""Monte Carlo dropout: BALD and DropOut-Entropy."""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    ParameterConstraints,
    RandomState,
    RandomStateLike,
    TorchClassifier,
    batches,
    declare_params,
    draw_seed,
    fill_doc,
    map_pool,
    renamed_kwargs,
)
from ._adaptive import ADAPTIVE_CONSTRAINTS, DEFAULT_Z, adaptive_mc, use_adaptive
from ._base import check_pool, check_query, query_strategy, select_top
from ._docstrings import PARTS
from ._scores import bald_scores, entropy_scores

_GLOBAL_RNG = threading.Lock()

#: The Monte Carlo dropout parameters (BALD, DropOut-Entropy, PowerBALD, BatchBALD).
MC_CONSTRAINTS: ParameterConstraints = {
    "n_draws": [Interval(1, integer=True)],
    "p": [Interval(0.0, 1.0, closed="left")],
}


@declare_params({"module": [InstanceOf(nn.Module)], "p": MC_CONSTRAINTS["p"]})
def with_mc_dropout(module: nn.Module, p: float = 0.1) -> nn.Module:
    """A copy of ``module`` in eval mode with its dropout layers active.

    A module without dropout gets a ``Dropout(p)`` in front of each ``Linear``
    layer (of the copy; the original is untouched).

    Parameters
    ----------
    module : torch.nn.Module
        The trained network.
    p : float, default=0.1
        Probability of the inserted dropout layers.

    Returns
    -------
    module : torch.nn.Module
        The copy.
    """
    module = copy.deepcopy(module)
    if not any(isinstance(m, nn.modules.dropout._DropoutNd) for m in module.modules()):
        _insert_dropout(module, p)
    module.eval()
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.train()
    return module


def _insert_dropout(module: nn.Module, p: float):
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, nn.Sequential(nn.Dropout(p), child))
        else:
            _insert_dropout(child, p)


def _mc_draws(net, X_pool, n_draws, p, random_state, batch_size):
    """``(slice, draws)`` per batch: the batch's ``(T, b, C)`` float64 MC-dropout probabilities."""
    mc_module = with_mc_dropout(net.module, p)
    devices = [net.device.index or 0] if net.device.type == "cuda" else []
    # Dropout draws from torch's global generator: blocks scored by threads of one process
    # (a thread-based joblib or Dask backend) take turns, so each block's draws come from
    # its own seed alone, as in separate processes.
    with _GLOBAL_RNG, torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(draw_seed(random_state))
        for s in batches(X_pool.shape[0], batch_size):
            x = net.tensor(X_pool[s])
            draws = torch.stack([net.log_proba(mc_module(x)).exp() for _ in range(n_draws)])
            yield s, draws.double().cpu().numpy()


def mc_dropout_scores(
    classifier: Any,
    X_pool: np.ndarray,
    *,
    n_draws: int = 10,
    p: float = 0.1,
    random_state: RandomStateLike = None,
    batch_size: int = 1024,
    strategy="bald",
) -> np.ndarray:
    """Per-example BALD or DropOut-Entropy scores, streamed in batches."""
    net = TorchClassifier(classifier, strategy)
    scores = np.empty(X_pool.shape[0])
    for s, mc in _mc_draws(net, X_pool, n_draws, p, random_state, batch_size):
        scores[s] = bald_scores(mc) if strategy == "bald" else entropy_scores(mc.mean(0))
    return scores


@declare_params(
    {**MC_CONSTRAINTS, "random_state": [RandomState()], "batch_size": [Interval(1, integer=True)]}
)
def mc_dropout_probs(
    classifier: Any,
    X_pool: np.ndarray,
    *,
    n_draws: int = 10,
    p: float = 0.1,
    random_state: RandomStateLike = None,
    batch_size: int = 1024,
) -> np.ndarray:
    """Every MC-dropout draw's probabilities (BatchBALD's input).

    The same draws as BALD's scores with the same ``random_state``.

    Parameters
    ----------
    classifier : fitted robustsk estimator or skorch net
        The network; dropout runs on a copy of its module.
    X_pool : ndarray of shape (n, ...)
        Rows to score.
    n_draws : int, default=10
        Monte Carlo passes.
    p : float, default=0.1
        Dropout probability of inserted layers.
    random_state : None, int or numpy Generator, default=None
        Seeds the masks.
    batch_size : int, default=1024
        Rows per forward pass.

    Returns
    -------
    probs : ndarray of shape (n, n_draws, C), float32
    """
    net = TorchClassifier(classifier, "mc_dropout_probs")
    X_pool = check_pool(X_pool, classifier, caller="mc_dropout_probs")
    return _stacked_draws(net, X_pool, n_draws, p, random_state, batch_size, np.float32)


def _stacked_draws(net, X, n_draws, p, random_state, batch_size, dtype):
    """Every pass's probabilities, example-major: ``(n, n_draws, C)`` of ``dtype``."""
    out: np.ndarray | None = None
    for s, mc in _mc_draws(net, X, n_draws, p, random_state, batch_size):
        if out is None:
            out = np.empty((X.shape[0], n_draws, mc.shape[2]), dtype=dtype)
        out[s] = np.transpose(mc, (1, 0, 2))
    assert out is not None
    return out


def mc_pool_scores(estimator, X_pool, rng, name, n_draws, p, batch_size, n_jobs, block_size):
    """BALD (``name`` "bald" or "power_bald") or DropOut-Entropy scores of the whole pool, in
    seeded joblib blocks; a ``TypeError`` before any work when there is no torch network."""
    TorchClassifier(estimator, name)
    return map_pool(
        _mc_block,
        X_pool,
        n_jobs=n_jobs,
        block_size=block_size,
        random_state=rng,
        seeded=True,
        estimator=estimator,
        n_draws=n_draws,
        p=p,
        batch_size=batch_size,
        strategy="dropout_entropy" if name == "dropout_entropy" else "bald",
    )


def _mc_block(X, *, estimator, **kwargs):
    return mc_dropout_scores(estimator, X, **kwargs)


def _mc_passes_block(X, *, estimator, n_draws, p, random_state, batch_size):
    """The block's ``(n, n_draws, C)`` float64 MC-dropout probabilities."""
    net = TorchClassifier(estimator, "mc_dropout")
    return _stacked_draws(net, X, n_draws, p, random_state, batch_size, np.float64)


def adaptive_mc_scores(
    estimator, X_pool, n_instances, rng, name, n_draws, p, z, batch_size, n_jobs, block_size
):
    """BALD or DropOut-Entropy scores with adaptive passes; examples that left the race
    score ``-inf`` (see :mod:`robustsk.query._adaptive`)."""

    def draw(ids, k):
        return map_pool(
            _mc_passes_block,
            X_pool[ids],
            n_jobs=n_jobs,
            block_size=block_size,
            random_state=rng,
            seeded=True,
            estimator=estimator,
            n_draws=k,
            p=p,
            batch_size=batch_size,
        )

    stats = adaptive_mc(draw, X_pool.shape[0], n_draws, kind=name, n_high=n_instances, z=z)
    score, _ = stats.estimate(name)
    return np.where(stats.m >= n_draws, score, -np.inf)


_DOC = """{summary}
    Needs a torch network (robustsk estimator or skorch net): dropout is run at
    prediction time on a copy of its module, ``n_draws`` passes per batch.
    A module without dropout gets ``Dropout(p)`` before each linear layer.

    Parameters
    ----------
    {torch_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds the dropout masks and tie breaking.
    n_draws : int, default=10
        Monte Carlo passes T (dropout masks drawn per example).
    p : float, default=0.1
        Dropout probability of inserted layers.
    batch_size : int, default=1024
        Rows per forward pass.
    adaptive : bool, default=False
        Draw the passes in rounds of 5 and stop for an example once it is
        settled below the selection cut-off at ``adaptive_z`` standard errors
        (delta-method intervals; see :ref:`adaptive-copies`); examples that
        stay in the race get all ``n_draws`` passes and are ranked on them.
        With the default ``n_draws=10`` it saves at most half the passes.
    adaptive_z : float, default=2.0
        Width of the adaptive confidence intervals, in standard errors.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
    """


def _mc_strategy(name, doc):
    def strategy(
        classifier: Any,
        X_pool: ArrayLike,
        n_instances: int = 1,
        *,
        random_state: RandomStateLike = None,
        n_draws: int = 10,
        p: float = 0.1,
        batch_size: int = 1024,
        adaptive: bool = False,
        adaptive_z: float = DEFAULT_Z,
        n_jobs: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> tuple[np.ndarray, np.ndarray]:
        estimator, X_pool, rng = check_query(
            classifier, X_pool, n_instances, random_state, name=name
        )
        if use_adaptive(adaptive, adaptive_z, X_pool.shape[0], n_instances, n_draws):
            TorchClassifier(estimator, name)
            scores = adaptive_mc_scores(
                estimator,
                X_pool,
                n_instances,
                rng,
                name,
                n_draws,
                p,
                adaptive_z,
                batch_size,
                n_jobs,
                block_size,
            )
            return select_top(scores, n_instances, rng)
        scores = mc_pool_scores(
            estimator, X_pool, rng, name, n_draws, p, batch_size, n_jobs, block_size
        )
        return select_top(scores, n_instances, rng)

    strategy.__name__ = strategy.__qualname__ = name
    strategy = fill_doc(_DOC, summary=doc, **PARTS)(strategy)
    strategy = query_strategy({**MC_CONSTRAINTS, **ADAPTIVE_CONSTRAINTS})(strategy)
    return renamed_kwargs({"n_samples": "n_draws"})(strategy)


bald = _mc_strategy(
    "bald",
    "Select by BALD, the mutual information between prediction and "
    "weights under MC dropout (Houlsby et al. 2011).\n",
)
dropout_entropy = _mc_strategy(
    "dropout_entropy",
    "Select by the entropy of the mean MC-dropout prediction (Gal et al. 2017).\n",
)
