"""Adaptive copies for the randomized pool scores: noisy copies are drawn in rounds, and an
example stops getting copies once its side of the selection cut-off is settled.

Selecting the ``B`` highest (and lowest) scores of a pool needs precision only near the
cut-offs. Every example first gets ``first`` copies; after each round the score of every
example still racing gets a confidence interval ``estimate +- z * standard_error``, and an
example leaves a race when its whole interval lies on the far side of the cut-off, the
``B``-th best *lower* bound among all examples (so at least ``B`` examples always remain).
The survivors get copies until ``n_draws``; the selection ranks them on their full ``n_draws``
copies, exactly as the full draw does.

The races of :func:`~robustsk.query.noise_entropy`:

* high side (key: label entropy, AQPL Eq. 5): the standard error of the plug-in entropy of
  the label counts by the delta method, on counts smoothed with ``0.25/C`` pseudo-count per
  class (so a unanimous example still has a non-zero interval);
* low side (key: label entropy, then the mean softmax entropy): an example whose copies
  disagree once can no longer have label entropy 0 and leaves (exact); among unanimous
  examples the mean softmax entropy races with its sample standard error.

:func:`~robustsk.query.noise_uncertainty` has one race, the high side of the mean softmax
entropy.

:func:`~robustsk.query.bald` and :func:`~robustsk.query.dropout_entropy` race on the high
side too, with :func:`adaptive_mc`: their scores (the entropy of the mean MC-dropout
prediction, minus the mean entropy of the passes for BALD) are smooth functions of the mean
of the per-pass vectors ``v_t = (p_t, H(p_t))``, so their standard error comes from the
delta method, ``sqrt(w' Cov(v) w / m)`` with ``w = (log p_bar, 1)`` (BALD) or
``(log p_bar, 0)`` (DropOut-Entropy), on running first and second moments of ``v_t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..utils import Boolean, Interval, ParameterConstraints, check_number
from ._scores import entropy_scores

#: Copies every example gets in the first round, and per later round.
FIRST_COPIES = 5
#: Pseudo-counts (in all, spread over the classes) of the label-entropy standard error.
SMOOTHING = 0.25
#: Width of the confidence intervals, in standard errors.
DEFAULT_Z = 2.0
#: Largest table of second moments (bytes) the MC-dropout races hold; with more classes
#: every example gets all its passes (no race; the selection is the full draw's).
MAX_MOMENT_BYTES = 512 * 2**20

#: The declared parameters of the strategies that can draw adaptively.
ADAPTIVE_CONSTRAINTS: ParameterConstraints = {
    "adaptive": [Boolean()],
    "adaptive_z": [Interval(0.0)],
}


def use_adaptive(adaptive, z, n_pool, n_instances, n_draws):
    """Whether to draw adaptively: asked for, and worth it (a pool much larger than the
    selection, more copies than one round). Validates ``adaptive`` and ``adaptive_z``."""
    if not isinstance(adaptive, (bool, np.bool_)):
        raise TypeError(f"adaptive must be True or False, got {adaptive!r}.")
    check_number(z, "adaptive_z", low=0.0)
    return bool(adaptive) and n_pool >= 4 * n_instances and n_draws > FIRST_COPIES


@dataclass
class CopyStats:
    """Running statistics of the noisy copies drawn for each pool example."""

    counts: np.ndarray  # (n, C) label counts
    m: np.ndarray  # (n,) copies drawn
    soft_sum: np.ndarray  # (n,) sum of the copies' softmax entropies
    soft_sq: np.ndarray  # (n,) sum of their squares
    n_copies: int = 0  # copies drawn in all (forward passes)

    @classmethod
    def empty(cls, n: int, n_classes: int) -> CopyStats:
        return cls(
            np.zeros((n, n_classes), dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n),
            np.zeros(n),
        )

    def add(self, ids: np.ndarray, labels: np.ndarray, soft: np.ndarray) -> None:
        n_classes = self.counts.shape[1]
        if labels.size and int(labels.max()) >= n_classes:
            grown = np.zeros((self.counts.shape[0], int(labels.max()) + 1), dtype=np.int64)
            grown[:, :n_classes] = self.counts
            self.counts, n_classes = grown, grown.shape[1]
        rows = np.repeat(ids, labels.shape[1])
        np.add.at(self.counts, (rows, labels.ravel()), 1)
        self.m[ids] += labels.shape[1]
        self.soft_sum[ids] += soft.sum(axis=1)
        self.soft_sq[ids] += (soft**2).sum(axis=1)
        self.n_copies += labels.size

    # -------------------------------------------------------------- estimates
    def soft_mean(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean softmax entropy and its standard error."""
        m = np.maximum(self.m, 1)
        mean = self.soft_sum / m
        var = np.maximum(self.soft_sq / m - mean**2, 0.0) * m / np.maximum(m - 1, 1)
        return mean, np.sqrt(var / m)

    def label_entropy(self) -> tuple[np.ndarray, np.ndarray]:
        """Plug-in label entropy and the delta-method standard error of its smoothed version."""
        m = np.maximum(self.m, 1)[:, None].astype(np.float64)
        n_classes = self.counts.shape[1]
        p = self.counts / m
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.where(p > 0, np.log(p), 0.0)
        plug_in = -(p * logp).sum(axis=1)
        smooth = (self.counts + SMOOTHING / n_classes) / (m + SMOOTHING)
        logs = np.log(smooth)
        h = -(smooth * logs).sum(axis=1)
        var = np.maximum((smooth * logs**2).sum(axis=1) - h**2, 0.0) / m[:, 0]
        return plug_in, np.sqrt(var)

    def unanimous(self) -> np.ndarray:
        return self.counts.max(axis=1) == self.m


def _kth_largest(values: np.ndarray, k: int) -> float:
    k = min(k, values.shape[0])
    return float(np.partition(values, values.shape[0] - k)[values.shape[0] - k])


def _race_high(estimate, se, z, k, candidates):
    """Candidates whose upper bound reaches the k-th largest lower bound of all examples."""
    cut = _kth_largest(estimate - z * se, k)
    return candidates & (estimate + z * se >= cut)


def _race_low(estimate, se, z, k, candidates):
    """Candidates whose lower bound is at most the k-th smallest upper bound among them."""
    upper = (estimate + z * se)[candidates]
    if upper.shape[0] <= k:
        return candidates
    cut = -_kth_largest(-upper, k)
    return candidates & (estimate - z * se <= cut)


def adaptive_copies(
    draw: Any,
    n_pool: int,
    n_draws: int,
    *,
    kind: str,
    n_high: int,
    n_low: int = 0,
    z: float = DEFAULT_Z,
    first: int = FIRST_COPIES,
) -> CopyStats:
    """Draw copies in rounds until every race is settled or has ``n_draws`` copies.

    Parameters
    ----------
    draw : callable
        ``draw(ids, k) -> (labels, copy_entropies)``, each of shape ``(len(ids), k)``:
        ``k`` fresh noisy copies of the examples ``ids``.
    n_pool : int
        Pool size.
    n_draws : int
        Copies of an example that stays in a race to the end (M).
    kind : {"entropy", "uncertainty"}
        :func:`noise_entropy`'s two races or :func:`noise_uncertainty`'s one.
    n_high, n_low : int
        Examples selected at the high and the low side.
    z : float, default=2.0
        Confidence-interval width in standard errors.
    first : int, default=5
        Copies per example in the first round and per later round.

    Returns
    -------
    stats : CopyStats
        Statistics of the copies; examples that stayed in a race have ``n_draws`` copies.
    """
    stats = CopyStats.empty(n_pool, 2)
    active_high = np.ones(n_pool, dtype=bool) if n_high > 0 else np.zeros(n_pool, dtype=bool)
    active_low = np.ones(n_pool, dtype=bool) if n_low > 0 else np.zeros(n_pool, dtype=bool)
    ids = np.arange(n_pool)
    while True:
        k = min(first, n_draws - int(stats.m[ids].max(initial=0)))
        if k <= 0 or ids.shape[0] == 0:
            return stats
        labels, soft = draw(ids, k)
        stats.add(ids, labels, soft)
        if kind == "uncertainty":
            mean, se = stats.soft_mean()
            active_high = _race_high(mean, se, z, n_high, active_high)
        else:
            if n_high:
                h, se_h = stats.label_entropy()
                active_high = _race_high(h, se_h, z, n_high, active_high)
            if n_low:
                unanimous = stats.unanimous()
                if int(unanimous.sum()) >= n_low:
                    mean, se = stats.soft_mean()
                    active_low = _race_low(mean, se, z, n_low, active_low & unanimous)
        ids = np.flatnonzero(active_high | active_low)


def rank_high_low(
    stats: CopyStats,
    n_draws: int,
    n_high: int,
    n_low: int,
    tie: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noise_entropy`'s selection among the examples that got all ``n_draws`` copies.

    Ranks by (label entropy, mean softmax entropy), remaining ties by ``tie`` (a random
    permutation), as the full draw does; returns the indices and their label entropies.
    """
    full = np.flatnonzero(stats.m >= n_draws)
    if full.shape[0] < n_high + n_low:  # the races overlapped (small pools): rank everyone
        full = np.arange(stats.m.shape[0])
    h, _ = stats.label_entropy()
    soft, _ = stats.soft_mean()
    order = full[np.lexsort((tie[full], soft[full], h[full]))]
    high = order[::-1][:n_high]
    rest = order[~np.isin(order, high)]
    idx = np.concatenate([high, rest[:n_low]])
    return idx, h[idx]


@dataclass
class DrawStats:
    """Running moments of the MC-dropout passes ``v_t = (p_t, H(p_t))`` of each example."""

    s1: np.ndarray  # (n, C + 1) sums of v_t
    s2: np.ndarray | None  # (n, C + 1, C + 1) sums of v_t v_t' (None: too large, no race)
    m: np.ndarray  # (n,) passes drawn
    n_copies: int = 0  # passes drawn in all

    @classmethod
    def empty(cls, n: int, n_classes: int) -> DrawStats:
        d = n_classes + 1
        racing = n * d * d * 8 <= MAX_MOMENT_BYTES
        return cls(
            np.zeros((n, d)),
            np.zeros((n, d, d)) if racing else None,
            np.zeros(n, dtype=np.int64),
        )

    def add(self, ids: np.ndarray, probs: np.ndarray) -> None:
        """Add the passes ``probs`` of shape ``(len(ids), k, C)`` of the examples ``ids``."""
        probs = np.asarray(probs, dtype=np.float64)
        v = np.concatenate([probs, entropy_scores(probs)[:, :, None]], axis=2)
        self.s1[ids] += v.sum(axis=1)
        if self.s2 is not None:
            self.s2[ids] += np.einsum("bki,bkj->bij", v, v)
        self.m[ids] += probs.shape[1]
        self.n_copies += probs.shape[0] * probs.shape[1]

    def estimate(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Each example's score (``kind`` "bald" or "dropout_entropy") and its standard
        error; the score is exactly the full draw's on the same passes."""
        m = np.maximum(self.m, 1).astype(np.float64)
        mean = self.s1 / m[:, None]
        p_bar, h_bar = mean[:, :-1], mean[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_bar = np.where(p_bar > 0, np.log(p_bar), 0.0)
        score = -(p_bar * log_bar).sum(axis=1)
        if kind == "bald":
            score = score - h_bar
        if self.s2 is None:
            return score, np.full_like(score, np.nan)
        w = np.concatenate([log_bar, np.full((len(m), 1), 1.0 if kind == "bald" else 0.0)], 1)
        cov = self.s2 / m[:, None, None] - mean[:, :, None] * mean[:, None, :]
        var = np.einsum("ni,nij,nj->n", w, cov, w) * m / np.maximum(m - 1, 1)
        return score, np.sqrt(np.maximum(var, 0.0) / m)


def adaptive_mc(
    draw: Any,
    n_pool: int,
    n_draws: int,
    *,
    kind: str,
    n_high: int,
    z: float = DEFAULT_Z,
    first: int = FIRST_COPIES,
) -> DrawStats:
    """MC-dropout passes in rounds until the high-side race is settled or has ``n_draws``.

    Parameters
    ----------
    draw : callable
        ``draw(ids, k) -> probs`` of shape ``(len(ids), k, C)``: ``k`` fresh MC-dropout
        passes of the examples ``ids``.
    n_pool : int
        Pool size.
    n_draws : int
        Passes of an example that stays in the race to the end (T).
    kind : {"bald", "dropout_entropy"}
        The score that races.
    n_high : int
        Examples selected (the highest scores).
    z : float, default=2.0
        Confidence-interval width in standard errors.
    first : int, default=5
        Passes per example in the first round and per later round.

    Returns
    -------
    stats : DrawStats
        Moments of the passes; examples that stayed in the race have ``n_draws`` passes.
    """
    ids = np.arange(n_pool)
    stats: DrawStats | None = None
    active = np.ones(n_pool, dtype=bool)
    while True:
        done = 0 if stats is None else int(stats.m[ids].max(initial=0))
        k = min(first, n_draws - done)
        if k <= 0 or ids.shape[0] == 0:
            assert stats is not None
            return stats
        probs = draw(ids, k)
        if stats is None:
            stats = DrawStats.empty(n_pool, probs.shape[2])
        stats.add(ids, probs)
        if stats.s2 is not None:  # else too many classes to race: every example gets all
            score, se = stats.estimate(kind)
            active = _race_high(score, se, z, n_high, active)
            ids = np.flatnonzero(active)
