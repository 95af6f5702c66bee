"""Contextual perturbation budgets: a generator net and the volume/range refinement."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..utils import check_number


def budget_range(eps0: float, alpha_low: float, alpha_high: float) -> tuple[float, float]:
    """The range constraint ``[l, u] = [alpha_low * eps0, min(alpha_high * eps0, 1)]``.

    Parameters
    ----------
    eps0 : float
        Target budget: the volume constraint is ``sum_i log eps_i = n log eps0``.
    alpha_low : float
        Relative lower limit, in ``(0, 1]``.
    alpha_high : float
        Relative upper limit, at least 1.

    Returns
    -------
    low, high : float
    """
    check_number(eps0, "eps0", low=0.0, high=1.0, include_low=False)
    check_number(alpha_low, "alpha_low", low=0.0, high=1.0, include_low=False)
    check_number(alpha_high, "alpha_high", low=1.0)
    return float(alpha_low * eps0), float(min(alpha_high * eps0, 1.0))


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
    """The budget generator ``g_theta(x)`` in ``[0, 1]^n``: two 3x3 convolutions, a sigmoid layer.

    Two convolutions (4 and 8 channels, kernel 3, ReLU) and a linear layer to
    one output per input element with a sigmoid, as in Xu et al. (2021).
    Flat inputs use two linear layers of ``hidden_units`` instead.

    Parameters
    ----------
    input_shape : tuple of int
        ``(c, h, w)`` of one image, or ``(d,)`` for flat input.
    channels : tuple of two int, default=(4, 8)
        Channels of the convolutions.
    hidden_units : int, default=64
        Width of the hidden layer for flat input.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        channels: tuple[int, int] = (4, 8),
        hidden_units: int = 64,
    ):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        n = math.prod(self.input_shape)
        if len(self.input_shape) == 3:
            c, h, w = self.input_shape
            self.body = nn.Sequential(
                nn.Conv2d(c, channels[0], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(channels[0], channels[1], 3, padding=1),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(channels[1] * h * w, n),
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
