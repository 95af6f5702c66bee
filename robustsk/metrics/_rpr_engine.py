"""The batched RPR engine: many perturbation draws of many points in one predict call.

The sequential algorithm of the RPR paper takes one point at a time and draws
one perturbation of the *original* point at a time until the model errs or
``max_steps`` draws have passed. Every draw is independent of the others, so
the draws of a point can be made in blocks: draw ``k`` perturbations at once,
predict them together and keep the index of the first misclassified one. The
draws after it are discarded, so the step count has exactly the law of the
sequential algorithm (a geometric variable capped at ``max_steps``); only the
order in which random numbers are consumed differs.

The engine takes the points ``chunk_size`` at a time. In a chunk every
still-unbroken ("alive") point has survived the same number ``done`` of draws,
and each round evaluates ``k`` more draws of each alive point, with

    k = min(batch_size // n_alive, max(1, done), max_steps - done)

so a round fills the predict batch, the block size at most doubles from one
round to the next (a point breaking early wastes fewer than ``done`` draws,
hence at most about half of the work is discarded, usually far less), and a
chunk needs only about ``log2(max_steps)`` rounds once the batch has room.
Rows are perturbed and predicted ``batch_size`` at a time, which bounds memory.
"""

from __future__ import annotations

import contextlib
import inspect

import numpy as np
import torch

from ..perturb import Perturbation
from ..utils import TorchClassifier, batches, numpy_generator


class TorchModel:
    """Correctness of rows through a fitted net's module on its device (eval mode).

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net
        Has a torch ``module_``.
    codes : ndarray of shape (n_samples,)
        Class index of each point's label in ``estimator.classes_``.
    """

    def __init__(self, estimator, codes):
        self.net = TorchClassifier(
            estimator,
            "rpr_steps with backend='torch'",
            advice="Use backend='predict' (or 'auto') for other classifiers.",
        )
        self.device = self.net.device
        self.codes = torch.as_tensor(np.asarray(codes, dtype=np.int64), device=self.device)
        self.targets = None

    def evaluating(self):
        """Context in which the module is in eval mode."""
        return self.net.evaluating()

    def set_chunk(self, chunk: slice):
        """Targets of the points of the current chunk."""
        self.targets = self.codes[chunk]

    def correct(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Whether each row is classified as its point's label; ``pos`` are chunk positions."""
        return self.net.output(x).argmax(dim=1) == self.targets[pos]  # (rows,)


class PredictModel:
    """Correctness of rows through any classifier's ``predict`` on numpy arrays.

    Parameters
    ----------
    estimator : fitted classifier with ``predict``
        Any scikit-learn compatible classifier.
    y : ndarray of shape (n_samples,)
        True labels.
    """

    device = torch.device("cpu")

    def __init__(self, estimator, y):
        self.estimator = estimator
        self.y = np.asarray(y)
        self.targets = None

    def evaluating(self):
        """No mode to switch."""
        return contextlib.nullcontext()

    def set_chunk(self, chunk: slice):
        """Labels of the points of the current chunk."""
        self.targets = self.y[chunk]

    def correct(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Whether ``estimator.predict`` gives each row its point's label."""
        pred = np.asarray(self.estimator.predict(x.cpu().numpy()))
        if pred.shape[:1] != (x.shape[0],):
            raise ValueError(
                f"estimator.predict returned shape {pred.shape} for "
                f"{x.shape[0]} rows; expected ({x.shape[0]},)."
            )
        return torch.from_numpy(np.asarray(pred.reshape(-1) == self.targets[pos.cpu().numpy()]))


def make_perturber(perturbation, device, random_state):
    """Return ``f(x_rows) -> perturbed rows`` (tensors on ``device``).

    A :class:`~robustsk.perturb.Perturbation` runs on the tensor itself, with
    its own stream when ``random_state`` is None. Any other callable gets numpy
    arrays, and a numpy Generator as ``random_state`` when it accepts one and
    ``random_state`` is given.
    """
    if isinstance(perturbation, Perturbation):
        gen = perturbation._generator(device, random_state)
        return lambda x: perturbation._perturb(x, gen)
    rng = None
    if random_state is not None and _accepts_random_state(perturbation):
        rng = numpy_generator(random_state)

    def apply(x):
        arr = x.cpu().numpy()
        out = perturbation(arr) if rng is None else perturbation(arr, random_state=rng)
        out = torch.as_tensor(np.asarray(out, dtype=np.float32), device=x.device)
        if out.shape != x.shape:
            raise ValueError(
                f"perturbation returned shape {tuple(out.shape)} for a batch of "
                f"shape {tuple(x.shape)}; it must keep the shape."
            )
        return out

    return apply


def _accepts_random_state(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "random_state" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def even_batches(n: int, batch_size: int):
    """Slices covering ``range(n)`` in as few calls as ``batches`` makes, of near-equal sizes
    (1,100 rows at batch_size 1,024 go as 550 + 550, not 1,024 + 76)."""
    n_calls = -(-n // batch_size)
    size = -(-n // n_calls)
    return batches(n, size)


def default_sizes(model, batch_size, chunk_size):
    """Fill in ``None`` sizes: ``batch_size`` 512 rows for a torch net on the CPU (cache-sized
    batches run fastest there), 16,384 on a GPU and 4,096 through ``predict`` (fewer calls
    of its per-call overhead); ``chunk_size`` ``max(batch_size, 8192)`` points."""
    if batch_size is None:
        if isinstance(model, PredictModel):
            batch_size = 4096
        else:
            batch_size = 16384 if torch.device(model.device).type == "cuda" else 512
    if chunk_size is None:
        chunk_size = max(batch_size, 8192)
    return batch_size, chunk_size


def block_size(n_alive: int, done: int, batch_size: int, max_steps: int) -> int:
    """Draws per alive point in the next round (see the module docstring)."""
    return min(max(1, batch_size // n_alive), max(1, done), max_steps - done)


def run_engine(
    model, perturb, X: np.ndarray, *, max_steps: int, batch_size: int, chunk_size: int, progress
) -> np.ndarray:
    """Steps of every point: draws taken until the first misclassified one, capped.

    Parameters
    ----------
    model : TorchModel or PredictModel
        Tells which rows are classified correctly.
    perturb : callable
        ``perturb(x_rows) -> perturbed rows``, tensors on ``model.device``.
    X : ndarray of shape (n_samples, ...)
        Clean points, float32.
    max_steps : int
        Cap.
    batch_size : int
        Rows per perturb and predict call.
    chunk_size : int
        Points held on the device at once.
    progress : tqdm
        Advanced by one per finished point.

    Returns
    -------
    steps : ndarray of shape (n_samples,), int64
    """
    device = model.device
    steps = np.empty(X.shape[0], dtype=np.int64)
    with model.evaluating(), torch.inference_mode():
        for chunk in batches(X.shape[0], chunk_size):
            x = torch.as_tensor(X[chunk], device=device)  # (m, ...)
            model.set_chunk(chunk)
            m = x.shape[0]
            pos = torch.arange(m, device=device)
            clean = torch.cat([model.correct(x[s], pos[s]) for s in even_batches(m, batch_size)])
            alive = pos[clean.to(device)]
            out = torch.zeros(m, dtype=torch.int64, device=device)
            progress.update(m - alive.numel())
            done = 0
            while alive.numel() and done < max_steps:
                n_alive = alive.numel()
                k = block_size(n_alive, done, batch_size, max_steps)
                rows = alive.repeat_interleave(k)  # (n_alive * k,): k draws of each point
                ok = torch.cat(
                    [
                        model.correct(perturb(x[rows[s]]), rows[s])
                        for s in even_batches(rows.numel(), batch_size)
                    ]
                )
                wrong = ~ok.to(device).view(n_alive, k)  # (n_alive, k)
                broke = wrong.any(dim=1)
                first = wrong.to(torch.int32).argmax(dim=1)  # the first misclassified draw
                out[alive[broke]] = done + first[broke] + 1  # draws taken, this one included
                alive = alive[~broke]
                done += k
                progress.update(n_alive - alive.numel())
            out[alive] = max_steps  # robust: withstood every draw
            progress.update(alive.numel())
            steps[chunk] = out.cpu().numpy()
    return steps
