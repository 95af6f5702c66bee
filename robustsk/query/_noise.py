"""AQPL's conformity query (classification entropy under noise) and the Noise-uncertainty
baseline."""

from __future__ import annotations

import contextlib
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..perturb import add_gaussian_noise
from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Interval,
    Options,
    ParameterConstraints,
    PerSample,
    RandomState,
    RandomStateLike,
    Range,
    TorchClassifier,
    batches,
    check_clip,
    check_per_sample,
    declare_params,
    fill_doc,
    float32_tensor,
    map_pool,
    renamed_kwargs,
    torch_generator,
)
from ._adaptive import (
    ADAPTIVE_CONSTRAINTS,
    DEFAULT_Z,
    adaptive_copies,
    rank_high_low,
    use_adaptive,
)
from ._base import check_pool, check_predict_proba, check_query, query_strategy, select_top
from ._docstrings import PARTS
from ._scores import entropy_scores, label_entropy_scores

#: The noise strategies' own parameters.
NOISE_CONSTRAINTS: ParameterConstraints = {
    "sample_sigma": [None, PerSample(low=0.0)],
    "n_draws": [Interval(1, integer=True)],
    "clip": [Options(["auto"]), None, Range()],
    **ADAPTIVE_CONSTRAINTS,
}


def _pool_sigma(estimator, n_pool, sample_sigma):
    if sample_sigma is not None:
        sigma = check_per_sample(sample_sigma, n_pool, "sample_sigma", low=0.0)
    elif getattr(estimator, "sigma_", None) is not None and len(estimator.sigma_) == n_pool:
        sigma = np.asarray(estimator.sigma_, dtype=np.float32)
    elif isinstance(getattr(estimator, "sigma", None), (int, float)):
        sigma = float(estimator.sigma)
    else:
        raise ValueError(
            "noise strategies need each example's noise level: pass sample_sigma (a scalar "
            "or one value per pool example), or use a NoiseTrainedClassifier whose sigma_ "
            "matches the pool."
        )
    return np.broadcast_to(np.asarray(sigma, dtype=np.float32), (n_pool,)).copy()


@renamed_kwargs({"n_noise": "n_draws"})
@declare_params(
    {
        "sigma": [PerSample(low=0.0)],
        "n_draws": [Interval(1, integer=True)],
        "random_state": [RandomState()],
        "batch_size": [Interval(1, integer=True)],
        "clip": [None, Range()],
        "output": [Options(["labels", "entropy", "both", "copies"])],
    }
)
def noisy_predictions(
    estimator: Any,
    X_pool: np.ndarray,
    sigma: np.ndarray,
    *,
    n_draws: int = 50,
    random_state: RandomStateLike = None,
    batch_size: int = 4096,
    clip: tuple[float, float] | None = (0.0, 1.0),
    output: str = "labels",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Predict ``n_draws`` Gaussian-noise copies of every pool example at its own level.

    Streams ``batch_size`` copies per forward pass. ``output="labels"`` gives
    the hard labels, shape ``(n_pool, n_draws)``; ``output="entropy"`` gives
    the mean softmax entropy over the copies, shape ``(n_pool,)``;
    ``output="both"`` gives ``(labels, entropies)`` from the same copies;
    ``output="copies"`` gives ``(labels, copy_entropies)``, the softmax entropy of
    every copy, shape ``(n_pool, n_draws)``. Torch nets
    run on their device; any other classifier is called through
    ``predict_proba`` on numpy copies.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    X_pool : ndarray of shape (n_pool, ...)
        Clean examples.
    sigma : float or ndarray of shape (n_pool,)
        Noise level of each example (one for all).
    n_draws : int, default=50
        Copies per example (M).
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the noise.
    batch_size : int, default=4096
        Copies per forward pass.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the copies.
    output : {"labels", "entropy", "both", "copies"}, default="labels"
        What to return.

    Returns
    -------
    labels : ndarray of shape (n_pool, n_draws), or mean entropies of shape (n_pool,)
        Or the tuple ``(labels, entropies)`` for ``output="both"``, or
        ``(labels, copy_entropies)`` for ``output="copies"``.
    """
    X_pool = check_pool(X_pool, estimator, caller="noisy_predictions")
    n_pool = X_pool.shape[0]
    levels = check_per_sample(sigma, n_pool, "sigma", low=0.0)
    sigma = np.broadcast_to(np.asarray(levels, dtype=np.float32), (n_pool,)).copy()
    per_chunk = max(1, batch_size // n_draws)
    torch_net = (
        TorchClassifier(estimator, "noise_entropy") if hasattr(estimator, "module_") else None
    )
    device = torch_net.device if torch_net is not None else torch.device("cpu")
    gen = torch_generator(random_state, device)
    labels = np.empty((n_pool, n_draws), dtype=np.int64) if output != "entropy" else None
    shape = (n_pool, n_draws) if output == "copies" else (n_pool,)
    entropy = np.empty(shape) if output != "labels" else None
    with torch_net.evaluating() if torch_net is not None else contextlib.nullcontext():
        for s in batches(n_pool, per_chunk):
            x = float32_tensor(X_pool[s], device)
            b = x.shape[0]
            copies = x.repeat_interleave(n_draws, dim=0)  # (b * M, ...)
            sig = torch.as_tensor(np.ascontiguousarray(sigma[s]), device=device)
            noisy = add_gaussian_noise(
                copies, sig.repeat_interleave(n_draws), clip=clip, generator=gen
            )
            if torch_net is not None:
                with torch.no_grad():
                    out = torch_net.log_proba(torch_net.output(noisy)).exp()
                proba = out.double().cpu().numpy()
            else:
                proba = np.asarray(estimator.predict_proba(noisy.numpy()), dtype=np.float64)
            proba = proba.reshape(b, n_draws, -1)  # (b, M, C)
            if labels is not None:
                labels[s] = proba.argmax(axis=2)
            if entropy is not None:
                per_copy = entropy_scores(proba)
                entropy[s] = per_copy if output == "copies" else per_copy.mean(axis=1)
    if output in ("both", "copies"):
        return cast(np.ndarray, labels), cast(np.ndarray, entropy)
    return cast(np.ndarray, labels if output == "labels" else entropy)


def _noisy_block(X, sigma, *, estimator, random_state, **kwargs):
    return noisy_predictions(estimator, X, sigma, random_state=random_state, **kwargs)


def _pool_noisy_predictions(
    estimator, X_pool, sigma, n_draws, rng, batch_size, clip, output, n_jobs, block_size
):
    """:func:`noisy_predictions` of the pool in blocks, one seed each (:func:`map_pool`)."""
    return map_pool(
        _noisy_block,
        X_pool,
        n_jobs=n_jobs,
        block_size=block_size,
        random_state=rng,
        seeded=True,
        per_row={"sigma": sigma},
        estimator=estimator,
        n_draws=n_draws,
        batch_size=batch_size,
        clip=clip,
        output=output,
    )


def _drawer(estimator, X_pool, sigma, rng, batch_size, clip, n_jobs, block_size):
    """``draw(ids, k)``: k fresh noisy copies of the pool rows ``ids`` (labels, entropies)."""

    def draw(ids, k):
        return _pool_noisy_predictions(
            estimator,
            X_pool[ids],
            sigma[ids],
            k,
            rng,
            batch_size,
            clip,
            "copies",
            n_jobs,
            block_size,
        )

    return draw


def _check_noise_args(estimator, X_pool, sample_sigma, n_draws, clip):
    check_predict_proba(estimator)
    clip = getattr(estimator, "clip", (0.0, 1.0)) if clip == "auto" else clip
    return _pool_sigma(estimator, X_pool.shape[0], sample_sigma), check_clip(clip)


_PARAMS = """
    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba``, or a learner wrapping one
        Torch nets run on their device; other classifiers get numpy copies.
    X_pool : array-like of shape (n_pool, ...)
        Candidates (AQPL: the training examples whose levels may be corrected).
    n_instances : int, default=1
        How many to select, in ``[1, n_pool]``.
    random_state : None, int or numpy Generator, default=None
        Seeds the noise and tie breaking.
    sample_sigma : float or array-like of shape (n_pool,), default=None
        Each example's current noise level; by default the estimator's
        ``sigma_`` (when it matches the pool) or its ``sigma``.
    n_draws : int, default=50
        Noisy copies per example (M).
    batch_size : int, default=4096
        Noisy copies per forward pass.
    clip : "auto", tuple or None, default="auto"
        Valid range of the noisy copies; "auto" takes the estimator's ``clip``.
    adaptive : bool, default=True
        Draw the copies in rounds of 5 and stop for an example once its side
        of the selection cut-off is settled at ``adaptive_z`` standard errors
        (see :ref:`adaptive-copies`); examples that stay in the race get all
        ``n_draws`` copies and are ranked on them.
    adaptive_z : float, default=2.0
        Width of the adaptive confidence intervals, in standard errors.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
"""


@renamed_kwargs({"n_noise": "n_draws"})
@query_strategy(NOISE_CONSTRAINTS)
@fill_doc(noise_params=_PARAMS, **PARTS)
def noise_entropy(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    sample_sigma: float | ArrayLike | None = None,
    n_draws: int = 50,
    batch_size: int = 4096,
    clip: str | tuple[float, float] | None = "auto",
    adaptive: bool = True,
    adaptive_z: float = DEFAULT_Z,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """AQPL's conformity query: half at maximum, half at minimum classification entropy.

    For each example, ``n_draws`` copies with noise ``N(0, sigma_i^2 I)`` at
    the example's own level are classified; the entropy of the predicted
    labels (AQPL Eq. 5) estimates how ill-suited ``sigma_i`` is. High entropy
    suggests excessive noise, low entropy deficient noise, so ``ceil(n/2)``
    examples of highest and ``floor(n/2)`` of lowest entropy are selected.
    Scores are the entropies.

    With a finite ``M`` many examples share a label entropy (every copy gets
    the same label: entropy 0); such ties are broken by the mean softmax
    entropy of the same copies, so among unanimous examples the most
    confident ones (the most deficient noise) come first on the low side.
    {noise_params}"""
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="noise_entropy"
    )
    sigma, clip = _check_noise_args(estimator, X_pool, sample_sigma, n_draws, clip)
    n_high = (n_instances + 1) // 2
    if use_adaptive(adaptive, adaptive_z, X_pool.shape[0], n_instances, n_draws):
        draw = _drawer(estimator, X_pool, sigma, rng, batch_size, clip, n_jobs, block_size)
        stats = adaptive_copies(
            draw,
            X_pool.shape[0],
            n_draws,
            kind="entropy",
            n_high=n_high,
            n_low=n_instances - n_high,
            z=adaptive_z,
        )
        tie = rng.permutation(X_pool.shape[0])
        return rank_high_low(stats, n_draws, n_high, n_instances - n_high, tie)
    labels, soft = _pool_noisy_predictions(
        estimator, X_pool, sigma, n_draws, rng, batch_size, clip, "both", n_jobs, block_size
    )
    n_classes = int(labels.max()) + 1
    entropy = label_entropy_scores(labels, n_classes)
    # rank by (label entropy, mean softmax entropy), remaining ties at random
    order = np.lexsort((rng.permutation(len(entropy)), soft, entropy))
    idx = np.concatenate([order[::-1][:n_high], order[: n_instances - n_high]])
    return idx, entropy[idx]


@renamed_kwargs({"n_noise": "n_draws"})
@query_strategy(NOISE_CONSTRAINTS)
@fill_doc(noise_params=_PARAMS, **PARTS)
def noise_uncertainty(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    sample_sigma: float | ArrayLike | None = None,
    n_draws: int = 50,
    batch_size: int = 4096,
    clip: str | tuple[float, float] | None = "auto",
    adaptive: bool = True,
    adaptive_z: float = DEFAULT_Z,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """AQPL's Noise-uncertainty baseline: largest mean prediction entropy over noisy copies.

    Scores are the mean softmax entropies of ``n_draws`` copies at each
    example's own level.
    {noise_params}"""
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="noise_uncertainty"
    )
    sigma, clip = _check_noise_args(estimator, X_pool, sample_sigma, n_draws, clip)
    if use_adaptive(adaptive, adaptive_z, X_pool.shape[0], n_instances, n_draws):
        draw = _drawer(estimator, X_pool, sigma, rng, batch_size, clip, n_jobs, block_size)
        stats = adaptive_copies(
            draw, X_pool.shape[0], n_draws, kind="uncertainty", n_high=n_instances, z=adaptive_z
        )
        mean, _ = stats.soft_mean()
        # only examples that raced to the end compete (others' means rest on fewer copies)
        scores = np.where(stats.m >= n_draws, mean, -np.inf)
        idx, _ = select_top(scores, n_instances, rng)
        return idx, mean[idx]
    scores = _pool_noisy_predictions(
        estimator, X_pool, sigma, n_draws, rng, batch_size, clip, "entropy", n_jobs, block_size
    )
    return select_top(scores, n_instances, rng)
