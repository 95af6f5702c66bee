"""Contextual perturbation budgets: a generator net and the volume/range refinement."""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..utils import check_number, renamed_kwargs


@renamed_kwargs({"alpha_low": "low", "alpha_high": "high"})
def budget_range(eps0: float, low: float, high: float) -> tuple[float, float]:
    """The range constraint ``[l, u] = [low * eps0, min(high * eps0, 1)]``.

    Parameters
    ----------
    eps0 : float
        Target budget: the volume constraint is ``sum_i log eps_i = n log eps0``.
    low : float
        Lower limit relative to ``eps0``, in ``(0, 1]`` (the estimator's
        ``ratio_range[0]``).
    high : float
        Upper limit relative to ``eps0``, at least 1 (``ratio_range[1]``).

    Returns
    -------
    low, high : float
    """
    check_number(eps0, "eps0", low=0.0, high=1.0, include_low=False)
    check_number(low, "low", low=0.0, high=1.0, include_low=False)
    check_number(high, "high", low=1.0)
    return float(low * eps0), float(min(high * eps0, 1.0))


def refine_budgets(g: torch.Tensor, eps0: float, low: float, high: float) -> torch.Tensor:
    """Per-element budgets from generator outputs, meeting both constraints exactly.

    Initial budgets ``log eps~_i = log l + g_i (log u - log l)`` lie in
    ``[l, u]``. With ``V = sum_i log eps~_i`` and ``V0 = n log eps0``, a deficit
    is spread in proportion to each element's room below ``log u``, a surplus in
    proportion to its room above ``log l`` (section 3.3 of Xu et al. 2021)::

        log eps_i = log eps~_i + (V0 - V) (log u - log eps~_i) / (n log u - V)   if V < V0
        log eps_i = log eps~_i - (V - V0) (log eps~_i - log l) / (V - n log l)   if V > V0

    so ``sum_i log eps_i = n log eps0`` and ``l <= eps_i <= u``. Computed in
    float64 and differentiable with respect to ``g``.

    Parameters
    ----------
    g : torch.Tensor of shape (n, ...)
        Generator outputs in ``[0, 1]``, one per input element.
    eps0 : float
        Target budget (``l <= eps0 <= u``).
    low : float
        Lower limit ``l`` of a budget, e.g. from :func:`budget_range`.
    high : float
        Upper limit ``u``.

    Returns
    -------
    eps : torch.Tensor of the shape and dtype of ``g``
    """
    if not (0 < low <= eps0 <= high):
        raise ValueError(
            f"budgets need 0 < low <= eps0 <= high; got low={low}, eps0={eps0}, high={high}."
        )
    dtype = g.dtype
    g64 = g.double().flatten(1)
    n = g64.shape[1]
    log_l, log_u, log_0 = math.log(low), math.log(high), math.log(eps0)
    log_e = log_l + g64 * (log_u - log_l)
    V = log_e.sum(1, keepdim=True)
    V0 = n * log_0
    deficit = V < V0
    one = torch.ones_like(V)
    up = (V0 - V) * (log_u - log_e) / torch.where(deficit, n * log_u - V, one)
    surplus = V > V0
    down = (V - V0) * (log_e - log_l) / torch.where(surplus, V - n * log_l, one)
    log_e = (
        log_e
        + torch.where(deficit, up, torch.zeros_like(up))
        - torch.where(surplus, down, torch.zeros_like(down))
    )
    return log_e.clamp(log_l, log_u).exp().view_as(g).to(dtype)


class BudgetGenerator(nn.Module):
    """The budget generator ``g_theta(x)`` in ``[0, 1]^n``: two 3x3 convolutions, a sigmoid head.

    Two convolutions (4 and 8 channels, kernel 3, ReLU), then a head with a
    sigmoid giving one output per input element. ``head="linear"`` is Xu et
    al. (2021)'s: a linear layer from the whole feature map to every element.
    It can express a budget pattern that depends on the position only (through
    its bias and weights), and trained jointly with the verified loss it finds
    one: budgets that are the same for every image (measured on MNIST: the
    per-pixel spread across images is 0.2% of the mean; see
    :func:`budget_image_dependence`). ``head="conv"`` is a third 3x3
    convolution instead, so a pixel's budget is a function of its
    neighbourhood's content and cannot be a positional pattern: the budgets
    follow the digit (measured: spread 18% of the mean, correlation -0.68 with
    the stroke). Flat inputs use two linear layers of ``hidden_units``
    whatever the head.

    Parameters
    ----------
    input_shape : tuple of int
        ``(c, h, w)`` of one image, or ``(d,)`` for flat input.
    channels : tuple of two int, default=(4, 8)
        Channels of the convolutions.
    hidden_units : int, default=64
        Width of the hidden layer for flat input.
    head : {"linear", "conv"}, default="linear"
        The last layer for images: the paper's dense layer, or a convolution.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        channels: tuple[int, int] = (4, 8),
        hidden_units: int = 64,
        head: str = "linear",
    ):
        super().__init__()
        if head not in ("linear", "conv"):
            raise ValueError(f'head must be "linear" or "conv", got {head!r}.')
        self.input_shape = tuple(int(s) for s in input_shape)
        self.head = head
        n = math.prod(self.input_shape)
        if len(self.input_shape) == 3:
            c, h, w = self.input_shape
            last: list[nn.Module] = (
                [nn.Flatten(), nn.Linear(channels[1] * h * w, n)]
                if head == "linear"
                else [nn.Conv2d(channels[1], c, 3, padding=1)]
            )
            self.body = nn.Sequential(
                nn.Conv2d(c, channels[0], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(channels[0], channels[1], 3, padding=1),
                nn.ReLU(),
                *last,
                nn.Sigmoid(),
            )
        else:
            self.body = nn.Sequential(
                nn.Flatten(),
                nn.Linear(n, hidden_units),
                nn.ReLU(),
                nn.Linear(hidden_units, n),
                nn.Sigmoid(),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).view(x.shape[0], *self.input_shape)


def budget_image_dependence(budgets: ArrayLike, X: ArrayLike) -> dict[str, float]:
    """How much budgets depend on the image: spread across images and correlation with it.

    Parameters
    ----------
    budgets : array-like of shape (n, ...)
        Budgets of ``n`` images (e.g. ``CertifiedBudgetClassifier.budgets(X)``).
    X : array-like of the same shape
        The images.

    Returns
    -------
    dependence : dict
        ``spread``: the standard deviation of each element's budget across
        the images relative to its mean, averaged over elements (0 for a
        pattern that is the same for every image); ``correlation``: Pearson
        correlation of budget and input value over all elements of all images
        (negative: small budgets on bright pixels such as a digit's stroke);
        ``per_image_correlation``: the same within each image, averaged over
        images whose budgets are not constant (NaN if none).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((5, 1, 4, 4))
    >>> d = budget_image_dependence(0.5 - 0.2 * X, X)
    >>> round(d["correlation"], 6), d["spread"] > 0
    (-1.0, True)
    >>> budget_image_dependence(np.full_like(X, 0.3), X)["spread"]
    0.0
    """
    B = np.asarray(budgets, dtype=np.float64)
    P = np.asarray(X, dtype=np.float64)
    if B.shape != P.shape or B.ndim < 2:
        raise ValueError(
            f"budgets and X must have the same shape (n, ...), got {B.shape} and {P.shape}."
        )
    B, P = B.reshape(len(B), -1), P.reshape(len(P), -1)
    mean = B.mean(0)
    spread = float(np.mean(B.std(0) / np.where(mean > 0, mean, 1.0)))
    correlation = _pearson(B.ravel(), P.ravel())
    varying = (B.std(1) > 0) & (P.std(1) > 0)
    per_image = (
        float(np.mean([_pearson(b, p) for b, p in zip(B[varying], P[varying])]))
        if varying.any()
        else float("nan")
    )
    return {"spread": spread, "correlation": correlation, "per_image_correlation": per_image}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")
