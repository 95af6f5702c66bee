"""Oracles that answer perturbation-level queries (AQPL's query type)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..perturb import ValueRange, check_range, clamp_, make_sigma_ladder, noise_ladder
from ..utils import TorchClassifier, batches, check_number, draw_seed
from ._journal import row_keys

#: Query seeds stay in [0, 2**62), inside the annotation server's range of seeds.
_SEED_SPACE = 1 << 62

#: What SimulatedOracle advises when its reference model is not a torch network.
_ORACLE_ADVICE = (
    "SimulatedOracle classifies the noisy ladders with the reference's torch module: fit a "
    "robustsk estimator (e.g. NoiseTrainedClassifier) or a skorch net as the reference, or, "
    "for any other model, answer with CallableOracle(f), where f(query) returns a level on "
    "query.sigmas."
)


@dataclass
class LevelQuery:
    """One perturbation-level query: which noise level is the threshold of recognisability?

    Attributes
    ----------
    query_id : int
        Position of the example in the learner's triplet set.
    x : ndarray
        The clean example.
    y : object
        Its label.
    sigmas : ndarray of shape (n_levels,)
        The ladder (AQPL: 0 to 0.9 in steps of 0.01).
    current_sigma : float
        The example's current level, marked on the ladder.
    seed : int
        Seed of the ladder's noise pattern, so that every viewer sees the same images;
        :func:`make_queries` derives it from ``key``, so the same example gets the same
        query after a restart.
    key : str
        Content key of ``x`` (:func:`row_keys`): identifies the example independently of
        its position; empty if unknown.
    """

    query_id: int
    x: np.ndarray
    y: Any
    sigmas: np.ndarray
    current_sigma: float
    seed: int = 0
    key: str = ""
    _images: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def images(self, clip: ValueRange = (0.0, 1.0)) -> np.ndarray:
        """The ladder of noisy copies, shape ``(n_levels, *x.shape)``."""
        if self._images is None:
            ladder = noise_ladder(self.x, self.sigmas, clip=clip, random_state=self.seed)
            self._images = np.asarray(ladder)  # a numpy x gives a numpy ladder
        return self._images

    def check_answer(self, sigma: float) -> float:
        """Return ``sigma`` as a ladder level, or raise ``ValueError`` if it is not one."""
        try:
            value = float(sigma)
        except (TypeError, ValueError):
            raise ValueError(f"answer must be a number on the ladder, got {sigma!r}.") from None
        hit = np.flatnonzero(np.isclose(self.sigmas, value, atol=1e-9))
        if hit.size == 0:
            raise ValueError(
                f"answer {value!r} is not on the ladder ({self.sigmas[0]:g} to "
                f"{self.sigmas[-1]:g}, {len(self.sigmas)} levels)."
            )
        return float(self.sigmas[hit[0]])


class CallableOracle:
    """An oracle backed by any function ``f(query) -> sigma`` (checked against the ladder).

    Parameters
    ----------
    func : callable
        Called with one :class:`LevelQuery`; returns a level on its ladder.
    """

    def __init__(self, func: Callable[[LevelQuery], float]):
        if not callable(func):
            raise TypeError(f"func must be callable, got {func!r}.")
        self.func = func

    def answer(self, queries: Iterable[LevelQuery]) -> np.ndarray:
        """The level chosen for each query, shape ``(n_queries,)``."""
        return np.array([q.check_answer(self.func(q)) for q in queries], dtype=np.float64)


class SimulatedOracle:
    """A stronger reference model stands in for the person.

    For each query, ``n_draws`` noisy copies of the example are classified by
    ``reference`` at every ladder level; the answer is the largest level up to
    which the reference is right with probability >= ``tau`` at every level
    (the threshold of recognisability: a level above the first failing one
    does not count, since under heavy noise a model can be right by chance).
    If even the lowest level fails, the lowest level is returned.

    Parameters
    ----------
    reference : fitted robustsk estimator or skorch net
        The reference classifier (trained on more data, or with noise); its
        torch module classifies the noisy copies on its device. Any other
        model is refused with a ``TypeError``: answer with a
        :class:`CallableOracle` instead.
    tau : float, default=0.9
        Required probability of a correct decision (AQPL's tau; the paper
        suggests a large value such as 0.9973, which needs many draws).
    n_draws : int, default=20
        Noisy copies per level (with tau 0.9: at least 18 of 20 correct).
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the examples: numbers (``(0, 255)`` for 8-bit images)
        or per-feature arrays broadcastable to one example's shape; the noisy
        copies are clipped to it (``None``: not clipped). The ladder's levels
        are in the same units.
    batch_size : int, default=4096
        Copies per forward pass.
    random_state : None, int or numpy Generator, default=None
        Seeds the noise.
    """

    def __init__(
        self,
        reference: Any,
        *,
        tau: float = 0.9,
        n_draws: int = 20,
        clip: ValueRange = (0.0, 1.0),
        batch_size: int = 4096,
        random_state: int | np.random.Generator | None = None,
    ):
        self.reference = reference
        self.tau = tau
        self.n_draws = n_draws
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state

    def answer(self, queries: Sequence[LevelQuery]) -> np.ndarray:
        """The threshold level of each query, shape ``(n_queries,)``.

        Each query's noise comes from its own seed (the oracle's ``random_state``
        and the query's ``seed``), so an example gets the same answer whatever
        else is asked with it and in whatever order. The ladder is classified
        from its lowest level up, a few levels at a time for many queries at
        once, and a query stops at its first failing level: the answer is the
        one the whole ladder would give, at the cost of the levels up to it.
        """
        check_number(self.tau, "tau", low=0.0, high=1.0, include_low=False)
        check_number(self.n_draws, "n_draws", low=1, integer=True)
        if not queries:
            return np.empty(0)
        bounds = check_range(self.clip, "clip")
        net = TorchClassifier(self.reference, "SimulatedOracle", advice=_ORACLE_ADVICE)
        classes = np.asarray(self.reference.classes_)
        base = draw_seed(self.random_state)
        answers = np.empty(len(queries))
        # queries of one ladder are answered together, in blocks that bound the copies
        ladders: dict[bytes, list[int]] = {}
        for i, q in enumerate(queries):
            ladders.setdefault(np.asarray(q.sigmas, dtype=np.float64).tobytes(), []).append(i)
        per_query = self.n_draws * _LEVELS_PER_PASS
        block = max(1, (4 * self.batch_size) // per_query)
        with net.evaluating(), torch.no_grad():
            for members in ladders.values():
                for start in range(0, len(members), block):
                    ids = members[start : start + block]
                    found = self._thresholds([queries[i] for i in ids], net, classes, base, bounds)
                    answers[ids] = found
        return answers

    def _thresholds(self, queries, net, classes, base, bounds) -> np.ndarray:
        """Answers of queries sharing one ladder: levels climbed a few at a time."""
        sigmas_np = np.asarray(queries[0].sigmas, dtype=np.float64)
        sigmas = torch.as_tensor(sigmas_np, dtype=torch.float32, device=net.device)
        n_levels = len(sigmas)
        x = torch.as_tensor(
            np.stack([np.asarray(q.x, dtype=np.float32) for q in queries]), device=net.device
        )  # (Q, ...)
        view = (1, -1, 1) + (1,) * (x.ndim - 1)
        target = torch.as_tensor(
            np.searchsorted(classes, [q.y for q in queries]), device=net.device
        )
        z = torch.stack(
            [ladder_noise(self.n_draws, x.shape[1:], base, q.seed, net.device) for q in queries]
        )  # (Q, D, ...)
        first_fail = np.full(len(queries), n_levels)  # n_levels: no level fails
        active = np.arange(len(queries))
        for lo in range(0, n_levels, _LEVELS_PER_PASS):
            if active.size == 0:
                break
            level = sigmas[lo : lo + _LEVELS_PER_PASS].reshape(view)  # (1, K, 1, ...)
            rows = torch.as_tensor(active, device=net.device)
            copies = x[rows, None, None] + level * z[rows, None]  # (A, K, D, ...)
            n_k = copies.shape[1]
            copies = clamp_(copies.reshape((-1,) + tuple(x.shape[1:])), bounds)
            wanted = target[rows].repeat_interleave(n_k * self.n_draws)
            correct = torch.empty(len(copies), dtype=torch.bool, device=net.device)
            for s in batches(len(copies), self.batch_size):
                correct[s] = net.output(copies[s]).argmax(1) == wanted[s]
            rate = correct.reshape(len(active), n_k, self.n_draws).float().mean(2)
            fails = (rate < self.tau).cpu().numpy()  # (A, K)
            hit = fails.any(1)
            first_fail[active[hit]] = lo + fails[hit].argmax(1)
            active = active[~hit]
        return sigmas_np[np.maximum(first_fail - 1, 0)]


#: Ladder levels classified per pass of :meth:`SimulatedOracle.answer` (per query).
_LEVELS_PER_PASS = 8


def ladder_noise(
    n_draws: int, shape: tuple[int, ...], base: int, seed: int, device: Any = "cpu"
) -> torch.Tensor:
    """The ``(n_draws, *shape)`` standard-normal draws a :class:`SimulatedOracle`
    seeded ``base`` uses for the query of seed ``seed`` (the same draws at every level)."""
    state = np.random.SeedSequence([int(base), int(seed)]).generate_state(2, dtype=np.uint32)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(state[0]) << 31 ^ int(state[1]))
    return torch.randn((int(n_draws),) + tuple(shape), generator=gen, device=device)


def make_queries(
    X: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray,
    ids: Iterable[int],
    *,
    sigma_min: float = 0.0,
    sigma_max: float = 0.9,
    step: float = 0.01,
    seed: int = 0,
    keys: Sequence[str] | np.ndarray | None = None,
) -> list[LevelQuery]:
    """Level queries for the examples ``ids`` of a triplet set ``(X, y, sigma)``.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
        Examples.
    y : ndarray of shape (n,)
        Labels.
    sigma : ndarray of shape (n,)
        Current levels.
    ids : array-like of int
        Which examples to ask about.
    sigma_min : float, default=0.0
        First ladder level.
    sigma_max : float, default=0.9
        Last ladder level.
    step : float, default=0.01
        Ladder spacing (alpha in the paper).
    seed : int, default=0
        Offset of the ladders' noise seeds. Each query's seed is
        ``(int(key[:15], 16) + seed) % 2**62``: a function of the example's content,
        not of its position or of when it is asked, so a learner resumed after a
        crash posts the very same query and finds a stored answer.
    keys : sequence of str or None, default=None
        Content keys of ``X[ids]`` (:func:`row_keys`), when already computed.

    Returns
    -------
    queries : list of LevelQuery
    """
    ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
    sigmas = make_sigma_ladder(sigma_min, sigma_max, step)
    keys = row_keys(X[ids]) if keys is None else np.asarray(keys)
    if len(keys) != len(ids):
        raise ValueError(f"keys has {len(keys)} entries for {len(ids)} ids.")
    return [
        LevelQuery(
            int(i),
            np.asarray(X[i]),
            y[i],
            sigmas,
            float(sigma[i]),
            (int(str(k)[:15], 16) + int(seed)) % _SEED_SPACE,
            str(k),
        )
        for i, k in zip(ids, keys)
    ]
