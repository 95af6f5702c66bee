"""Randomized smoothing (Cohen, Rosenfeld and Kolter 2019): counts, PREDICT and CERTIFY.

The smoothed classifier ``g(x) = argmax_c P(f(x + delta) = c)``, ``delta ~ N(0, sigma^2 I)``,
is robust in L2: if the top class has probability at least ``p_A > 1/2``, ``g`` keeps its
decision within radius ``sigma * Phi^-1(p_A)``. The probabilities are estimated from
noisy copies classified by the base classifier ``f``, with the paper's statistics: a
Clopper-Pearson lower bound on ``p_A`` for certification (two samples: ``n0`` copies to
pick the class, ``n`` to bound its probability), a two-sided binomial test between the top
two classes for prediction. Every function here is vectorized over examples; the counts
are drawn in batches on the net's device.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import stats

from ..utils import RandomStateLike, TorchClassifier, check_number, draw_seed, progress_bar

#: The label :func:`certify_counts` and :func:`predict_counts` give an abstention.
ABSTAIN = -1


def smoothed_counts(
    classifier: Any,
    X: ArrayLike,
    sigma: float | ArrayLike,
    n_draws: int,
    *,
    batch_size: int | None = None,
    random_state: RandomStateLike = None,
    verbose: int = 0,
    desc: str = "noisy copies",
) -> np.ndarray:
    """How often the base classifier predicts each class on ``n_draws`` noisy copies of each
    example.

    Parameters
    ----------
    classifier : fitted classifier
        The base classifier ``f``. A robustsk estimator or skorch net runs on its
        device (its module's argmax); any other classifier is called through
        ``predict`` on numpy copies.
    X : array-like of shape (n_examples, ...)
        Examples.
    sigma : float or array-like of shape (n_examples,)
        Noise level (standard deviation), one for all or one per example.
    n_draws : int
        Noisy copies per example.
    batch_size : int or None, default=None
        Copies per forward pass; None takes 1,000 on a CPU (cache-sized: faster
        there) and 10,000 on a GPU.
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the noise.
    verbose : int, default=0
        A progress bar over the examples (on a terminal only); 0 is silent.
    desc : str, default="noisy copies"
        The bar's label.

    Returns
    -------
    counts : ndarray of shape (n_examples, n_classes), int64
        Columns in the order of ``classifier.classes_``.
    """
    X = np.asarray(X, dtype=np.float32)
    check_number(n_draws, "n_draws", low=1, integer=True)
    n = int(n_draws)
    if batch_size is not None:
        check_number(batch_size, "batch_size", low=1, integer=True)
    m = X.shape[0]
    sig = np.array(np.broadcast_to(np.asarray(sigma, dtype=np.float32), (m,)))
    classes = np.asarray(classifier.classes_)
    k = len(classes)
    counts = np.zeros((m, k), dtype=np.int64)
    net = TorchClassifier(classifier, "smoothed_counts") if hasattr(classifier, "module_") else None
    device = net.device if net is not None else "cpu"
    if batch_size is None:
        batch_size = 10000 if torch.device(device).type == "cuda" else 1000
    gen = torch.Generator(device=device)
    gen.manual_seed(draw_seed(random_state))
    per_example = min(int(n), int(batch_size))
    rows = max(1, int(batch_size) // per_example)  # examples per pass
    bar = progress_bar(total=m, desc=desc, unit="example", verbose=verbose)
    with (
        bar,
        torch.no_grad(),
        net.evaluating() if net is not None else contextlib.nullcontext(),
    ):
        for start in range(0, m, rows):
            stop = min(start + rows, m)
            x = torch.as_tensor(X[start:stop], device=device)
            s = torch.as_tensor(sig[start:stop], device=device)
            for done in range(0, int(n), per_example):
                d = min(per_example, int(n) - done)
                copies = x.repeat_interleave(d, dim=0)
                noise = torch.randn(copies.shape, generator=gen, device=device)
                scale = s.repeat_interleave(d).view(-1, *([1] * (copies.dim() - 1)))
                copies = copies + scale * noise
                if net is not None:
                    pred = net.output(copies).argmax(1).cpu().numpy()
                else:
                    labels = np.asarray(classifier.predict(copies.cpu().numpy()))
                    pred = np.searchsorted(classes, labels)
                owner = np.repeat(np.arange(stop - start), d)
                counts[start:stop] += np.bincount(
                    owner * k + pred, minlength=(stop - start) * k
                ).reshape(stop - start, k)
            bar.update(stop - start)
    return counts


def clopper_pearson_lower(successes: ArrayLike, n: int | ArrayLike, alpha: float) -> np.ndarray:
    """One-sided ``(1 - alpha)`` Clopper-Pearson lower confidence bound of a binomial proportion.

    ``Beta(alpha; k, n - k + 1)``, and 0 where ``k = 0``: the lower end of the
    two-sided ``(1 - 2 alpha)`` interval, as Cohen et al.'s ``LowerConfBound``.

    Parameters
    ----------
    successes : int or array-like of int
        Successes ``k``.
    n : int or array-like of int
        Trials.
    alpha : float
        One-sided error level.

    Returns
    -------
    bound : ndarray of float64
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(alpha, k, n - k + 1)
    return np.where(k > 0, bound, 0.0)


def certify_counts(
    counts0: np.ndarray, counts: np.ndarray, sigma: float | ArrayLike, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cohen et al.'s CERTIFY from its two samples.

    The class is the most frequent one of ``counts0``; ``p_A`` is the
    Clopper-Pearson lower bound of its share of ``counts``; the example is
    certified with radius ``sigma * Phi^-1(p_A)`` when ``p_A > 1/2``, else abstained.

    Parameters
    ----------
    counts0 : ndarray of shape (n_examples, n_classes)
        The selection sample (``n0`` copies each).
    counts : ndarray of shape (n_examples, n_classes)
        The estimation sample (``n`` copies each).
    sigma : float or array-like of shape (n_examples,)
        The noise level of each example.
    alpha : float
        Failure probability of the certificate.

    Returns
    -------
    classes : ndarray of int64, shape (n_examples,)
        Class index, or :data:`ABSTAIN`.
    radius : ndarray of float64, shape (n_examples,)
        Certified L2 radius; NaN where abstained.
    """
    counts0, counts = np.asarray(counts0), np.asarray(counts)
    top = counts0.argmax(1)
    n = counts.sum(1)
    p_a = clopper_pearson_lower(counts[np.arange(len(top)), top], n, alpha)
    certified = p_a > 0.5
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), top.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        radius = np.where(certified, sig * stats.norm.ppf(p_a), np.nan)
    return np.where(certified, top, ABSTAIN).astype(np.int64), radius


def predict_counts(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Cohen et al.'s PREDICT: the top class when a two-sided binomial test between the top
    two counts rejects equality at level ``alpha``, else :data:`ABSTAIN`.

    Parameters
    ----------
    counts : ndarray of shape (n_examples, n_classes)
        Class counts of ``n`` noisy copies each.
    alpha : float
        Probability of returning a class other than the smoothed classifier's.

    Returns
    -------
    classes : ndarray of int64, shape (n_examples,)
    """
    counts = np.asarray(counts)
    order = np.argsort(-counts, axis=1, kind="stable")
    rows = np.arange(len(counts))
    n_a, n_b = counts[rows, order[:, 0]], counts[rows, order[:, 1]] if counts.shape[1] > 1 else 0
    total = n_a + n_b
    # two-sided binomial test at p = 1/2: 2 P(X <= min(n_a, n_b)), capped at 1 (scipy's binomtest)
    p_value = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(n_a, n_b), total, 0.5))
    p_value = np.where(n_a == n_b, 1.0, p_value)
    return np.where(p_value <= alpha, order[:, 0], ABSTAIN).astype(np.int64)
