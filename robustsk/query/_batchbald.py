"""BatchBALD: greedy selection of the batch of highest joint mutual information
(Kirsch et al. 2019), exact while the joint fits and sampled beyond, in bounded memory."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import InstanceOf, Interval, RandomStateLike, TorchClassifier, declare_params, fill_doc
from ._base import check_points, check_query, query_strategy
from ._docstrings import PARTS
from ._mc_dropout import MC_CONSTRAINTS, mc_dropout_probs


@declare_params(
    {
        "n": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
        "max_configs": [Interval(1, integer=True)],
        "chunk_elements": [Interval(1, integer=True)],
    }
)
def batchbald_select(
    probs: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    max_configs: int = 4096,
    chunk_elements: int = 2**22,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy BatchBALD on Monte Carlo draws of the class probabilities.

    Each step adds the candidate ``x`` that maximises the batch's mutual
    information ``I(y_1..y_b, y_x; w) = H(y_1..y_b, y_x) - sum H(y_i | w)``,
    with the entropies estimated from the ``K`` draws. The joint distribution of
    the batch's labels is kept as ``P(configuration | draw)``: exact (``C^b``
    configurations) while it has at most ``max_configs`` of them, then
    ``max_configs`` configurations sampled from it (each later pick extends every
    sampled configuration by a class drawn from its conditional), and the joint
    entropy is the importance-sampling estimate of the reference
    implementation. Candidates are scored in chunks of at most
    ``chunk_elements`` numbers, so memory stays at ``O(n K C + K max_configs C +
    chunk_elements)``.

    Parameters
    ----------
    probs : ndarray of shape (n_pool, K, C)
        Class probabilities of each pool example under ``K`` draws of the
        weights (MC dropout, or an ensemble's members).
    n : int
        Batch size.
    rng : numpy.random.Generator
        Breaks ties and samples configurations.
    max_configs : int, default=4096
        Largest number of label configurations kept (the memory bound).
    chunk_elements : int, default=2**22
        Numbers per candidate chunk.

    Returns
    -------
    indices : ndarray of shape (n,)
        In selection order.
    scores : ndarray of shape (n,)
        The batch's estimated mutual information (nats) after each pick; the
        first is the first pick's BALD score.
    """
    probs = check_points(probs, n, "probs", 3, dtype=np.float64)
    n_pool, K, C = probs.shape
    cond = -(probs * np.log(np.clip(probs, 1e-300, None))).sum(axis=2).mean(axis=1)
    joint = np.ones((K, 1))
    sampled = False
    sum_cond = 0.0
    taken = np.zeros(n_pool, dtype=bool)
    chosen = np.empty(n, dtype=np.int64)
    gains = np.empty(n)
    for step in range(n):
        S = joint.shape[1]
        p_config = joint.mean(axis=0)  # P(s)
        H = np.empty(n_pool)
        size = max(1, chunk_elements // (S * C))
        for start in range(0, n_pool, size):
            block = probs[start : start + size]  # (b, K, C)
            P = np.matmul(joint.T[None], block) / K  # (b, S, C): P(s, y_x = c)
            logP = np.log(np.clip(P, 1e-300, None))
            if sampled:  # configurations drawn from P(s): E_s[-sum_c P(s,c)/P(s) log P(s,c)]
                H[start : start + size] = (-(P * logP).sum(axis=2) / p_config).mean(axis=1)
            else:
                H[start : start + size] = -(P * logP).sum(axis=(1, 2))
        score = H - sum_cond - cond
        score[taken] = -np.inf
        best = score.max()
        ties = np.flatnonzero(score >= best - 1e-12 * max(1.0, abs(best)))
        i = int(ties[0] if len(ties) == 1 else rng.choice(ties))
        chosen[step], gains[step] = i, score[i]
        taken[i] = True
        sum_cond += cond[i]
        extended = joint[:, :, None] * probs[i][:, None, :]  # (K, S, C)
        if sampled:
            p_sc = extended.mean(axis=0)  # (S, C)
            cdf = np.cumsum(p_sc / p_sc.sum(axis=1, keepdims=True), axis=1)
            c = np.minimum((cdf < rng.random(S)[:, None]).sum(axis=1), C - 1)
            joint = joint * probs[i][:, c]
        elif S * C <= max_configs:
            joint = extended.reshape(K, S * C)
        else:
            full = extended.reshape(K, S * C)
            q = full.mean(axis=0)
            joint = full[:, rng.choice(S * C, size=max_configs, p=q / q.sum())]
            sampled = True
    return chosen, gains


@query_strategy({**MC_CONSTRAINTS, "max_configs": [Interval(1, integer=True)]})
@fill_doc(**PARTS)
def batchbald(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    n_draws: int = 20,
    p: float = 0.1,
    max_configs: int = 4096,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Select by BatchBALD: the batch of highest joint mutual information, greedily.

    BALD scores each example alone, so its top B are often redundant;
    BatchBALD (Kirsch et al. 2019) grows the batch one example at a time,
    each maximising the mutual information of the whole batch's labels and
    the weights, estimated from ``n_draws`` MC-dropout passes
    (:func:`batchbald_select`: exact joint while it has at most
    ``max_configs`` label configurations, sampled beyond). Needs a torch
    network. Memory: the pool's ``n_pool x n_draws x C`` probabilities plus
    the bounded joint; on large pools wrap it in
    :func:`~robustsk.query.subsample`.

    Parameters
    ----------
    {torch_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds the dropout masks, configuration samples and ties.
    n_draws : int, default=20
        MC-dropout passes per example.
    p : float, default=0.1
        Dropout probability of inserted layers.
    max_configs : int, default=4096
        Largest number of label configurations of the batch kept.
    batch_size : int, default=1024
        Rows per forward pass.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In selection order.
    scores : ndarray of shape (n_instances,)
        The batch's mutual information after each pick.
    """
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="batchbald"
    )
    TorchClassifier(estimator, "batchbald")
    seed = int(rng.integers(2**31 - 1))
    probs = mc_dropout_probs(
        estimator, X_pool, n_draws=n_draws, p=p, random_state=seed, batch_size=batch_size
    )
    return batchbald_select(probs, int(n_instances), rng, max_configs=max_configs)
