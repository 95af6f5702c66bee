"""AQPL: active querying of perturbation levels (Algorithm 1 of the AQPL paper)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..estimators import NoiseTrainedClassifier
from ..perturb import GaussianNoise
from ..query import noise_entropy
from ..utils import (
    DEPRECATED,
    HasMethods,
    InstanceOf,
    Interval,
    IsCallable,
    Options,
    ParameterConstraints,
    RandomState,
    Sized,
    check_per_sample,
    numpy_generator,
    resolve_renamed,
    validate_params,
)
from ._journal import AnswerJournal, match_rows, row_keys
from ._learner import _accepts, _criteria
from ._oracles import make_queries


class PerturbationLevelLearner:
    """Active learning of per-example noise levels from an oracle (AQPL).

    Holds the triplets ``(x_i, y_i, sigma_i)`` (Eq. 3) and a
    :class:`~robustsk.estimators.NoiseTrainedClassifier`. Each round
    (Algorithm 1) it selects ``n_per_side`` examples of maximum and as many of
    minimum classification entropy under their own noise (``M = n_draws``
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
        Any strategy; noise strategies get each example's level and ``n_draws``.
        AQPL's baselines: ``random``, ``clean_uncertainty``, ``noise_uncertainty``.
    n_per_side : int, default=100
        B: examples per side (maximum and minimum entropy) per round.
    n_draws : int, default=50
        M: noisy copies per example for the entropy.
    sigma_init : float, default=0.3
        Initial level of every example.
    sigma_mode : {"fixed", "adaptive"}, default="fixed"
        Train from GNT (levels change only by queries: AQPL-GNT) or let levels
        adapt CAT-style between queries (AQPL-CAT); answered levels stay pinned.
    max_queries : int or None, default=None
        Total number of examples to ask about (the human effort allowed).
    max_rounds : int, default=10
        Rounds at most.
    tol : float or None, default=None
        Stop when a round's mean ``|sigma* - sigma|`` falls below it (the
        levels already conform).
    stopping : StoppingCriterion, sequence of them, or None, default=None
        Checked by :meth:`run` after every round, on the training examples:
        :class:`LabelBudget` counts the answered levels, :class:`LowUncertainty`
        looks at the model's predictions on the training examples,
        :class:`ValidationPlateau` scores the model on its held-out set (or any
        callable ``criterion(learner, X_pool) -> (reason or None, measurements)``).
        Their measurements go into the round's ``history_`` record, with
        ``"stop"``: the reason, or None.
    epochs_per_round : int or None, default=None
        Training epochs after each round; None keeps the estimator's ``max_epochs``.
    ladder : tuple (sigma_min, sigma_max, step), default=(0.0, 0.9, 0.01)
        The query ladder (the paper's protocol).
    journal : str, path-like or None, default=None
        An :class:`AnswerJournal`: each round's queries are recorded before they
        are asked, and each answer (with its example's content key and round)
        before it is applied. :meth:`fit` on an existing journal applies the
        recorded answers to their examples, matched by content (``X`` may be
        reordered; examples it lacks are refused with a ``ValueError``), asks the
        queries of an unfinished round again first -- identical queries, so the
        annotation server returns the answers it stored -- and continues the round
        numbering. The learner holds the journal's lock from :meth:`fit` until
        :meth:`close`: a second learner on it fails at once.
    random_state : None or int, default=None
        Seeds selection and ladders.
    verbose : int, default=0
        Print one line per round.
    n_noise : int, deprecated
        Old name of ``n_draws``; it stops working in 0.3.
    budget : int or None, deprecated
        Old name of ``max_queries``; it stops working in 0.3.

    Attributes
    ----------
    sigma_ : ndarray of shape (n_samples,)
        Current level of each training example.
    answered_ : ndarray of bool, shape (n_samples,)
        Which examples the oracle has answered.
    answers_ : dict
        ``{example index: sigma*}``, every answer received.
    history_ : list of dict
        Per round: round, queries, total queries, mean change of level, mean level,
        evaluation accuracies when ``eval_set`` is given to :meth:`run`, and the
        stopping criteria's measurements and verdict (``"stop"``). Rounds
        restored from the journal carry the first four.
    stop_reason_ : str or None
        Why :meth:`run` stopped before ``max_rounds``: a stopping criterion's
        reason, ``tol``, or nothing left to ask (None when it ran every round).
    """

    #: What each parameter accepts, checked by :meth:`fit` before any work.
    _parameter_constraints: ParameterConstraints = {
        "oracle": [HasMethods("answer", description="an answer(queries) method")],
        "estimator": [
            None,
            InstanceOf(NoiseTrainedClassifier, description="a NoiseTrainedClassifier"),
        ],
        "query_strategy": [IsCallable()],
        "n_per_side": [Interval(1, integer=True)],
        "n_draws": [Interval(1, integer=True)],
        "sigma_init": [Interval(0.0)],
        "sigma_mode": [Options({"fixed", "adaptive"})],
        "max_queries": [None, Interval(1, integer=True)],
        "n_noise": [Options({DEPRECATED}), Interval(1, integer=True)],
        "budget": [Options({DEPRECATED}), None, Interval(1, integer=True)],
        "max_rounds": [Interval(0, integer=True)],
        "tol": [None, Interval(0.0)],
        "stopping": [None, IsCallable(), InstanceOf(list, tuple, description="a list of criteria")],
        "epochs_per_round": [None, Interval(1, integer=True)],
        "ladder": [Sized(3, "(sigma_min, sigma_max, step)")],
        "journal": [
            None,
            InstanceOf(str, bytes, os.PathLike, description="a path (str or os.PathLike)"),
        ],
        "random_state": [RandomState()],
    }

    def __init__(
        self,
        oracle: Any,
        estimator: NoiseTrainedClassifier | None = None,
        *,
        query_strategy: Callable[..., tuple[np.ndarray, np.ndarray]] = noise_entropy,
        n_per_side: int = 100,
        n_draws: int = 50,
        sigma_init: float = 0.3,
        sigma_mode: str = "fixed",
        max_queries: int | None = None,
        max_rounds: int = 10,
        tol: float | None = None,
        stopping: Any = None,
        epochs_per_round: int | None = None,
        ladder: tuple[float, float, float] = (0.0, 0.9, 0.01),
        journal: str | os.PathLike | None = None,
        random_state: int | None = None,
        verbose: int = 0,
        n_noise: Any = DEPRECATED,
        budget: Any = DEPRECATED,
    ):
        self.oracle = oracle
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.n_per_side = n_per_side
        self.n_draws = n_draws
        self.sigma_init = sigma_init
        self.sigma_mode = sigma_mode
        self.max_queries = max_queries
        self.max_rounds = max_rounds
        self.tol = tol
        self.stopping = stopping
        self.epochs_per_round = epochs_per_round
        self.ladder = ladder
        self.journal = journal
        self.random_state = random_state
        self.verbose = verbose
        self.n_noise = n_noise
        self.budget = budget

    # ------------------------------------------------------------------ setup
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
        validate_params(self)
        self._renamed = {
            "n_draws": resolve_renamed(self, "n_noise", "n_draws", 50),
            "max_queries": resolve_renamed(self, "budget", "max_queries", None),
        }
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
        self.history_: list[dict[str, Any]] = []
        self._rng = numpy_generator(self.random_state)
        self._keys = row_keys(self.X_)
        self._pending: list[dict[str, Any]] = []  # asked, not yet answered (a crash)
        self._round_stats: dict[int, tuple[int, float]] = {}  # round -> (answers, sum |change|)
        self._last_round = 0
        if self.journal is not None:
            journal = self._open_journal()
            try:
                self._resume(journal)
            except BaseException:
                journal.close()
                raise
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
            Noise level of the Gaussian-noise evaluation, in the data's units
            (scale it by ``high - low`` for data not in [0, 1]); the noisy
            copies are clipped to the estimator's valid range ``clip``.

        Returns
        -------
        self
        """
        if not hasattr(self, "sigma_"):
            raise RuntimeError("call fit(X, y) before run().")
        criteria = _criteria(self.stopping)
        todo = self.max_rounds - len(self.history_)
        if n_rounds is not None:
            todo = min(todo, n_rounds)
        self.stop_reason_ = None
        for _ in range(max(0, todo)):
            record = self.step()
            if record is None:
                self.stop_reason_ = (
                    "nothing left to ask: every example answered or max_queries spent"
                )
                break
            if eval_set is not None:
                Xe, ye = eval_set
                record["clean_accuracy"] = self.estimator_.score(Xe, ye)
                noise = GaussianNoise(
                    eval_sigma,
                    clip=getattr(self.estimator_, "clip", (0.0, 1.0)),  # the data's range
                    random_state=0,
                )
                noisy = noise(np.asarray(Xe, np.float32))
                record["noise_accuracy"] = self.estimator_.score(noisy, ye)
            reasons = []
            if self.tol is not None and record["mean_abs_change"] < self.tol:
                change = record["mean_abs_change"]
                reasons.append(f"levels conform: mean change {change:.4g} < tol {self.tol:g}")
            for criterion in criteria:
                reason, measurements = criterion(self, self.X_)
                record.update(measurements)
                if reason:
                    reasons.append(str(reason))
            if criteria or self.tol is not None:
                record["stop"] = "; ".join(reasons) or None
            if self.verbose:
                print(
                    ", ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in record.items()
                    )
                )
            if reasons:
                self.stop_reason_ = "; ".join(reasons)
                break
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The current model's class probabilities (for stopping criteria and callers)."""
        return self.estimator_.predict_proba(X)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """The current model's accuracy on ``(X, y)``."""
        return float(self.estimator_.score(X, y))

    def step(self) -> dict[str, Any] | None:
        """One round of Algorithm 1; returns its history record, or None when nothing is left."""
        if self._pending:  # a round cut short by a crash: the same queries again
            round_no = min(int(r["round"]) for r in self._pending)
            asked = [r for r in self._pending if int(r["round"]) == round_no]
            ids = np.array([r["row"] for r in asked], dtype=np.int64)
            before = np.array([r["current"] for r in asked], dtype=np.float32)
        else:
            n_total = int(self.answered_.sum())
            limit = self._renamed["max_queries"]
            room = limit - n_total if limit is not None else None
            candidates = np.flatnonzero(~self.answered_)
            n_ask = min(2 * self.n_per_side, len(candidates), room if room is not None else 1 << 62)
            if n_ask <= 0:
                return None
            ids = self._select(candidates, n_ask)
            before = self.sigma_[ids].copy()
            round_no = self._last_round + 1
            asked = [
                {"row": int(i), "round": round_no, "current": float(c)} for i, c in zip(ids, before)
            ]
            self._journal_records("ask", asked)  # durable before anyone is asked
            self._pending = asked
        self._last_round = max(self._last_round, round_no)
        current = self.sigma_.copy()
        current[ids] = before
        queries = make_queries(
            self.X_,
            self.y_,
            current,
            ids,
            sigma_min=self.ladder[0],
            sigma_max=self.ladder[1],
            step=self.ladder[2],
            keys=self._keys[ids],
        )
        given = self.oracle.answer(queries)
        try:
            answers = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"the oracle's answers must be numbers, one level per query, got {given!r}."
            ) from None
        if answers.shape != (len(ids),):
            raise ValueError(f"the oracle returned {answers.shape} answers for {len(ids)} queries.")
        # on the ladder (finite, in its range) before anything is journaled
        answers = np.array([q.check_answer(a) for q, a in zip(queries, answers)])
        self._journal_records(  # durable before it is applied
            "level",
            [
                {"row": int(i), "round": round_no, "sigma": float(s), "previous": float(b)}
                for i, s, b in zip(ids, answers, before)
            ],
        )
        self._pending = [r for r in self._pending if int(r["round"]) != round_no]
        for i, s in zip(ids, answers):
            self._record(int(i), float(s))
        if self.epochs_per_round is not None:
            self.estimator_.set_params(max_epochs=self.epochs_per_round)
        self.estimator_.partial_fit(self.X_, self.y_, sample_sigma=self.sigma_)
        self._sync_levels()
        n_before, change_before = self._round_stats.pop(round_no, (0, 0.0))
        n_round = n_before + len(ids)
        record = {
            "round": round_no,
            "queries": n_round,
            "total_queries": int(self.answered_.sum()),
            "mean_abs_change": float(
                (change_before + np.abs(answers - before).sum()) / max(n_round, 1)
            ),
            "mean_sigma": float(self.sigma_.mean()),
        }
        self.history_.append(record)
        return record

    def close(self) -> None:
        """Release the journal's lock (``fit`` takes it again)."""
        journal = getattr(self, "_journal", None)
        if journal is not None:
            journal.close()

    def __enter__(self) -> PerturbationLevelLearner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _select(self, candidates, n_ask):
        kwargs = {}
        if _accepts(self.query_strategy, "sample_sigma", var_keyword=False):
            kwargs["sample_sigma"] = self.sigma_[candidates]
        if _accepts(self.query_strategy, "n_draws", var_keyword=False):
            kwargs["n_draws"] = self._renamed["n_draws"]
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

    # ------------------------------------------------------------------ journal
    def _open_journal(self):
        path = os.fspath(self.journal)
        journal = getattr(self, "_journal", None)
        if journal is None or os.fspath(journal.path) != path:
            if journal is not None:
                journal.close()
            journal = self._journal = AnswerJournal(path)
        return journal.open()

    def _journal_records(self, kind, rows):
        if self.journal is None:
            return
        self._open_journal().append_records(
            [
                {"kind": kind, "key": str(self._keys[r["row"]]), "index": r["row"]}
                | {k: v for k, v in r.items() if k != "row"}
                for r in rows
            ]
        )

    def _resume(self, journal):
        """Apply the journal's answers (by content), find unanswered queries, count rounds."""
        records = journal.records()
        other = sorted({r["kind"] for r in records} - {"ask", "level"})
        if other:
            raise ValueError(
                f"{journal.path} holds {other} records (an ActiveLearner's journal), not "
                "perturbation levels; give this learner its own journal."
            )
        for number, r in enumerate(records, 1):  # every line is a record: number = line
            fields = ("sigma", "previous") if r["kind"] == "level" else ("current",)
            for field in fields:
                value = r.get(field, 0.0 if field == "previous" and "key" not in r else None)
                if not _is_level(value):
                    raise ValueError(
                        f"{journal.path}:{number}: the {r['kind']!r} record's {field} is "
                        f"{value!r}; levels are finite numbers >= 0. The file was altered."
                    )
        n = len(self.X_)
        legacy = [r for r in records if r["kind"] == "level" and "key" not in r]
        keyed = [r for r in records if "key" in r]
        if legacy:
            index = np.array([r["index"] for r in legacy], dtype=np.int64)
            if (index < 0).any() or (index >= n).any():
                raise ValueError(
                    f"{journal.path} holds {len(legacy)} answers of the first journal format, "
                    f"identified by position only, up to position {index.max()}, but X has "
                    f"{n} rows: they cannot be mapped. Use the data they were given for, in the "
                    "same order."
                )
            warnings.warn(
                f"{journal.path} holds {len(legacy)} answers of the first journal format, "
                "identified by position only: they are applied to those positions of X, which "
                "must be the data they were given for, in the same order.",
                RuntimeWarning,
                stacklevel=3,
            )
            for i, r in zip(index, legacy):
                self._record(int(i), float(r["sigma"]))
        answers = [r for r in keyed if r["kind"] == "level"]
        asks = [r for r in keyed if r["kind"] == "ask"]
        answer_rows = match_rows([r["key"] for r in answers], self._keys)
        ask_rows = match_rows([r["key"] for r in asks], self._keys)
        unmatched = np.r_[answer_rows, ask_rows] < 0
        if unmatched.any():
            absent = ~np.isin([r["key"] for r in answers + asks], self._keys)
            raise ValueError(
                f"{int((answer_rows < 0).sum())} of the {len(answers)} answers and "
                f"{int((ask_rows < 0).sum())} of the {len(asks)} queries in the journal "
                f"{journal.path} do not match an example of X ({int(absent.sum())} are about "
                "examples X does not contain, the others are more than X's rows with their "
                "content): the data differ from the data those answers were given for. Pass "
                "the same examples (in any order), or start a new journal."
            )
        for i, r in zip(answer_rows, answers):
            self._record(int(i), float(r["sigma"]))
            rnd = int(r["round"])
            n_r, change = self._round_stats.get(rnd, (0, 0.0))
            self._round_stats[rnd] = (n_r + 1, change + abs(float(r["sigma"]) - r["previous"]))
        answered = set(answer_rows.tolist())
        self._pending = [
            {"row": int(i), "round": int(r["round"]), "current": float(r["current"])}
            for i, r in zip(ask_rows, asks)
            if int(i) not in answered
        ]
        rounds = [int(r["round"]) for r in keyed]
        self._last_round = max(rounds, default=0)
        unfinished = {r["round"] for r in self._pending}
        total = len(legacy)
        for rnd in sorted(set(self._round_stats) - unfinished):
            n_r, change = self._round_stats.pop(rnd)
            total += n_r
            self.history_.append(
                {
                    "round": rnd,
                    "queries": n_r,
                    "total_queries": total,
                    "mean_abs_change": change / n_r,
                }
            )


def _is_level(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and bool(np.isfinite(value))
        and value >= 0
    )


#: The name used in the AQPL paper.
AQPLLearner = PerturbationLevelLearner
