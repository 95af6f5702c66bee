"""AQPL: active querying of perturbation levels (Algorithm 1 of the AQPL paper)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..estimators import NoiseTrainedClassifier
from ..perturb import GaussianNoise
from ..query import noise_entropy
from ..utils import check_number, check_options, check_per_sample, numpy_generator
from ._learner import _accepts
from ._oracles import make_queries


class PerturbationLevelLearner:
    """Active learning of per-example noise levels from an oracle (AQPL).

    Holds the triplets ``(x_i, y_i, sigma_i)`` (Eq. 3) and a
    :class:`~robustsk.estimators.NoiseTrainedClassifier`. Each round
    (Algorithm 1) it selects ``n_per_side`` examples of maximum and as many of
    minimum classification entropy under their own noise (``M = n_noise``
    copies each), shows each to the oracle as a noise ladder, sets its level to
    the answer ``sigma*``, and retrains by Eq. 2 (warm start). Examples are
    asked about once.

    Parameters
    ----------
    oracle : object with ``answer(queries) -> levels``
        :class:`SimulatedOracle`, :class:`CallableOracle` or the annotation
        app's oracle.
    estimator : NoiseTrainedClassifier or None, default=None
        The model; None builds ``NoiseTrainedClassifier(max_epochs=5)``.
    query_strategy : callable, default=robustsk.query.noise_entropy
        Any strategy; noise strategies get each example's level and ``n_noise``.
        AQPL's baselines: ``random``, ``clean_uncertainty``, ``noise_uncertainty``.
    n_per_side : int, default=100
        B: examples per side (maximum and minimum entropy) per round.
    n_noise : int, default=50
        M: noisy copies per example for the entropy.
    sigma_init : float, default=0.3
        Initial level of every example.
    sigma_mode : {"fixed", "adaptive"}, default="fixed"
        Train from GNT (levels change only by queries: AQPL-GNT) or let levels
        adapt CAT-style between queries (AQPL-CAT); answered levels stay pinned.
    budget : int or None, default=None
        Total number of examples to ask about.
    max_rounds : int, default=10
        Rounds at most.
    tol : float or None, default=None
        Stop when a round's mean ``|sigma* - sigma|`` falls below it (the
        levels already conform).
    epochs_per_round : int or None, default=None
        Training epochs after each round; None keeps the estimator's ``max_epochs``.
    ladder : tuple (sigma_min, sigma_max, step), default=(0.0, 0.9, 0.01)
        The query ladder (the paper's protocol).
    journal : str, path-like or None, default=None
        JSON-lines file of every answer, written (and fsynced) before training;
        answers found there on :meth:`fit` are applied instead of asked again.
    random_state : None or int, default=None
        Seeds selection and ladders.
    verbose : int, default=0
        Print one line per round.

    Attributes
    ----------
    sigma_ : ndarray of shape (n_samples,)
        Current level of each training example.
    answered_ : ndarray of bool, shape (n_samples,)
        Which examples the oracle has answered.
    answers_ : dict
        ``{example index: sigma*}``, every answer received.
    history_ : list of dict
        Per round: queries, total queries, mean change of level, mean level,
        and evaluation accuracies when ``eval_set`` is given to :meth:`run`.
    """

    def __init__(
        self,
        oracle: Any,
        estimator: NoiseTrainedClassifier | None = None,
        *,
        query_strategy: Callable[..., tuple[np.ndarray, np.ndarray]] = noise_entropy,
        n_per_side: int = 100,
        n_noise: int = 50,
        sigma_init: float = 0.3,
        sigma_mode: str = "fixed",
        budget: int | None = None,
        max_rounds: int = 10,
        tol: float | None = None,
        epochs_per_round: int | None = None,
        ladder: tuple[float, float, float] = (0.0, 0.9, 0.01),
        journal: str | os.PathLike | None = None,
        random_state: int | None = None,
        verbose: int = 0,
    ):
        self.oracle = oracle
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.n_per_side = n_per_side
        self.n_noise = n_noise
        self.sigma_init = sigma_init
        self.sigma_mode = sigma_mode
        self.budget = budget
        self.max_rounds = max_rounds
        self.tol = tol
        self.epochs_per_round = epochs_per_round
        self.ladder = ladder
        self.journal = journal
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ setup
    def _check_params(self):
        if not hasattr(self.oracle, "answer"):
            raise TypeError(f"oracle must have an answer(queries) method, got {self.oracle!r}.")
        if not callable(self.query_strategy):
            raise TypeError(f"query_strategy must be callable, got {self.query_strategy!r}.")
        check_number(self.n_per_side, "n_per_side", low=1, integer=True)
        check_number(self.n_noise, "n_noise", low=1, integer=True)
        check_number(self.sigma_init, "sigma_init", low=0.0)
        check_options(self.sigma_mode, "sigma_mode", {"fixed", "adaptive"})
        if self.budget is not None:
            check_number(self.budget, "budget", low=1, integer=True)
        check_number(self.max_rounds, "max_rounds", low=0, integer=True)
        if self.tol is not None:
            check_number(self.tol, "tol", low=0.0)
        if self.epochs_per_round is not None:
            check_number(self.epochs_per_round, "epochs_per_round", low=1, integer=True)
        if len(self.ladder) != 3:
            raise ValueError(f"ladder must be (sigma_min, sigma_max, step), got {self.ladder!r}.")

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_sigma: ArrayLike | None = None
    ) -> PerturbationLevelLearner:
        """Set up the triplets and train the initial model (GNT or adaptive).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs in [0, 1].
        y : array-like of shape (n_samples,)
            Labels.
        sample_sigma : array-like of shape (n_samples,) or None, default=None
            Initial level of each example (prior knowledge); None gives every
            example ``sigma_init``.

        Returns
        -------
        self
        """
        self._check_params()
        self.X_ = np.asarray(X, dtype=np.float32)
        self.y_ = np.asarray(y)
        n = len(self.X_)
        if sample_sigma is None:
            self.sigma_ = np.full(n, self.sigma_init, dtype=np.float32)
        else:
            self.sigma_ = np.broadcast_to(
                np.asarray(check_per_sample(sample_sigma, n, "sample_sigma", low=0.0), np.float32),
                (n,),
            ).copy()
        self.answered_ = np.zeros(n, dtype=bool)
        self.answers_: dict[int, float] = {}
        self.history_: list[dict[str, int | float]] = []
        self._rng = numpy_generator(self.random_state)
        for i, s in self._load_journal().items():
            if 0 <= i < n:
                self._record(i, s)
        self.estimator_ = (
            self.estimator
            if self.estimator is not None
            else NoiseTrainedClassifier(max_epochs=5, verbose=0, random_state=self.random_state)
        )
        self.estimator_.set_params(sigma_mode=self.sigma_mode, sigma=self.sigma_init)
        self.estimator_.fit(self.X_, self.y_, sample_sigma=self.sigma_)
        self._sync_levels()
        return self

    # ------------------------------------------------------------------ rounds
    def run(
        self,
        n_rounds: int | None = None,
        *,
        eval_set: tuple[ArrayLike, ArrayLike] | None = None,
        eval_sigma: float = 0.5,
    ) -> PerturbationLevelLearner:
        """Run rounds until the budget, ``max_rounds`` (or ``n_rounds``) or ``tol`` stops it.

        Parameters
        ----------
        n_rounds : int or None, default=None
            Rounds to run now (capped by ``max_rounds`` in total).
        eval_set : tuple (X, y) or None, default=None
            Evaluated after every round: clean and Gaussian-noise accuracy.
        eval_sigma : float, default=0.5
            Noise level of the Gaussian-noise evaluation.

        Returns
        -------
        self
        """
        if not hasattr(self, "sigma_"):
            raise RuntimeError("call fit(X, y) before run().")
        todo = self.max_rounds - len(self.history_)
        if n_rounds is not None:
            todo = min(todo, n_rounds)
        for _ in range(max(0, todo)):
            record = self.step()
            if record is None:
                break
            if eval_set is not None:
                Xe, ye = eval_set
                record["clean_accuracy"] = self.estimator_.score(Xe, ye)
                noisy = GaussianNoise(eval_sigma, random_state=0)(np.asarray(Xe, np.float32))
                record["noise_accuracy"] = self.estimator_.score(noisy, ye)
            if self.verbose:
                print(
                    ", ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in record.items()
                    )
                )
            if self.tol is not None and record["mean_abs_change"] < self.tol:
                break
        return self

    def step(self) -> dict[str, int | float] | None:
        """One round of Algorithm 1; returns its history record, or None when nothing is left."""
        n_total = int(self.answered_.sum())
        room = self.budget - n_total if self.budget is not None else None
        candidates = np.flatnonzero(~self.answered_)
        n_ask = min(2 * self.n_per_side, len(candidates), room if room is not None else 1 << 62)
        if n_ask <= 0:
            return None
        ids = self._select(candidates, n_ask)
        queries = make_queries(
            self.X_,
            self.y_,
            self.sigma_,
            ids,
            sigma_min=self.ladder[0],
            sigma_max=self.ladder[1],
            step=self.ladder[2],
            seed=int(self._rng.integers(2**31 - 1 - len(self.X_))),
        )
        answers = np.asarray(self.oracle.answer(queries), dtype=np.float64)
        if answers.shape != (len(ids),):
            raise ValueError(f"the oracle returned {answers.shape} answers for {len(ids)} queries.")
        answers = np.array([q.check_answer(a) for q, a in zip(queries, answers)])
        before = self.sigma_[ids].copy()
        self._append_journal(ids, answers)  # durable before training
        for i, s in zip(ids, answers):
            self._record(int(i), float(s))
        if self.epochs_per_round is not None:
            self.estimator_.set_params(max_epochs=self.epochs_per_round)
        self.estimator_.partial_fit(self.X_, self.y_, sample_sigma=self.sigma_)
        self._sync_levels()
        record = {
            "round": len(self.history_) + 1,
            "queries": int(len(ids)),
            "total_queries": int(self.answered_.sum()),
            "mean_abs_change": float(np.abs(answers - before).mean()),
            "mean_sigma": float(self.sigma_.mean()),
        }
        self.history_.append(record)
        return record

    # ------------------------------------------------------------------ helpers
    def _select(self, candidates, n_ask):
        kwargs = {}
        if _accepts(self.query_strategy, "sample_sigma", var_keyword=False):
            kwargs["sample_sigma"] = self.sigma_[candidates]
        if _accepts(self.query_strategy, "n_noise", var_keyword=False):
            kwargs["n_noise"] = self.n_noise
        if _accepts(self.query_strategy, "random_state", var_keyword=False):
            kwargs["random_state"] = int(self._rng.integers(2**31 - 1))
        idx, _ = self.query_strategy(self.estimator_, self.X_[candidates], n_ask, **kwargs)
        return candidates[np.asarray(idx)]

    def _record(self, i, sigma):
        self.sigma_[i] = sigma
        self.answered_[i] = True
        self.answers_[i] = sigma

    def _sync_levels(self):
        """Adaptive mode: take the estimator's adapted levels, answered ones stay pinned."""
        if self.sigma_mode == "adaptive":
            adapted = np.asarray(self.estimator_.sigma_, dtype=np.float32).copy()
            for i, s in self.answers_.items():
                adapted[i] = s
            self.sigma_ = adapted

    def _append_journal(self, ids, answers):
        if self.journal is None:
            return
        path = Path(os.fspath(self.journal))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                "".join(
                    json.dumps({"index": int(i), "sigma": float(s)}) + "\n"
                    for i, s in zip(ids, answers)
                )
            )
            f.flush()
            os.fsync(f.fileno())

    def _load_journal(self):
        if self.journal is None or not Path(os.fspath(self.journal)).exists():
            return {}
        out = {}
        with open(self.journal, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line
                out[int(rec["index"])] = float(rec["sigma"])
        return out


#: The name used in the AQPL paper.
AQPLLearner = PerturbationLevelLearner
