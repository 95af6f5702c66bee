"""Projected gradient descent (Madry et al. 2018), Linf and L2, batched with per-sample radii."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from ..utils import (
    ClipRange,
    RandomStateLike,
    check_clip,
    check_number,
    check_options,
    torch_generator,
)
from ._projection import NORMS, as_eps, project, random_start, steepest_step


def pgd(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float | ArrayLike | torch.Tensor = 0.3,
    alpha: float | ArrayLike | torch.Tensor = 0.01,
    steps: int = 40,
    norm: str = "inf",
    random_init: bool = True,
    clip: ClipRange = (0.0, 1.0),
    early_stop: bool = False,
    random_state: RandomStateLike = None,
    loss: str = "ce",
) -> torch.Tensor:
    """Untargeted PGD: ``steps`` ascent steps on the cross-entropy, projected onto the ball.

    Every example of the batch is attacked at once; its perturbation always
    stays inside its own ``eps`` ball and the valid range ``clip``. Only input
    gradients are computed (model parameters get no ``.grad``); the model's
    train/eval mode is left as the caller set it.

    Parameters
    ----------
    model : callable
        Maps a batch to logits ``(batch, C)``.
    x : torch.Tensor of shape (batch, ...)
        Clean inputs.
    y : torch.Tensor of shape (batch,)
        True labels (class indices).
    eps : float or torch.Tensor of shape (batch,), default=0.3
        Radius of the ball, one for all or one per example.
    alpha : float or torch.Tensor of shape (batch,), default=0.01
        Step size (per example if a tensor).
    steps : int, default=40
        Ascent steps.
    norm : {"inf", "2"}, default="inf"
        The ball's norm.
    random_init : bool, default=True
        Start from a uniform random point of the ball.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid input range.
    early_stop : bool, default=False
        Stop attacking an example once it is misclassified (its first
        adversarial point is kept), which saves passes.
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the random start.
    loss : {"ce", "kl"}, default="ce"
        What the steps ascend: the cross-entropy of ``y``, or (TRADES' inner
        maximization, Zhang et al. 2019) the KL divergence of the prediction
        from the clean input's prediction (``y`` unused; the random start is
        then TRADES' ``0.001 * N(0, 1)``).

    Returns
    -------
    x_adv : torch.Tensor of x's shape
    """
    check_number(steps, "steps", low=0, integer=True)
    check_options(loss, "loss", {"ce", "kl"})
    check_options(norm, "norm", set(NORMS))
    clip = check_clip(clip)
    x = x.detach()
    eps_t = as_eps(eps, x)
    alpha_t = as_eps(alpha, x)
    delta = torch.zeros_like(x)
    generator = torch_generator(random_state, x.device)
    if random_init and loss == "kl":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        delta = project(0.001 * noise, eps_t, norm)
    elif random_init:
        delta = random_start(x, eps_t, norm, generator)
    x_adv = _clip(x + delta, clip)
    if loss == "kl":
        with torch.no_grad():
            clean = F.softmax(model(x), dim=1)
    if not early_stop and norm == "inf" and np.ndim(eps) == 0 and np.ndim(alpha) == 0:
        # One radius and one step for all: the step in four fused tensor operations,
        # the same numbers as the general path below.
        e, a = float(eps), float(alpha)  # type: ignore[arg-type]
        for _ in range(steps):
            xa = x_adv.requires_grad_(True)
            logits = model(xa)
            if loss == "kl":
                objective = F.kl_div(F.log_softmax(logits, dim=1), clean, reduction="sum")
            else:
                objective = F.cross_entropy(logits, y, reduction="sum")
            (grad,) = torch.autograd.grad(objective, xa)
            x_adv = (xa.detach() + a * grad.sign() - x).clamp_(-e, e).add_(x)
            if clip is not None:
                x_adv.clamp_(clip[0], clip[1])
        return x_adv.detach()
    if not early_stop:  # every example every step: no gathers, no scatters
        for _ in range(steps):
            xa = x_adv.requires_grad_(True)
            logits = model(xa)
            if loss == "kl":
                objective = F.kl_div(F.log_softmax(logits, dim=1), clean, reduction="sum")
            else:
                objective = F.cross_entropy(logits, y, reduction="sum")
            (grad,) = torch.autograd.grad(objective, xa)
            step = alpha_t * steepest_step(grad, norm)
            x_adv = _clip(x + project(xa.detach() + step - x, eps_t, norm), clip)
        return x_adv.detach()
    active = torch.arange(x.shape[0], device=x.device)
    for _ in range(steps):
        xa = x_adv[active].requires_grad_(True)
        logits = model(xa)
        if loss == "kl":
            objective = F.kl_div(F.log_softmax(logits, dim=1), clean[active], reduction="sum")
        else:
            objective = F.cross_entropy(logits, y[active], reduction="sum")
        (grad,) = torch.autograd.grad(objective, xa)
        wrong = logits.detach().argmax(1) != y[active]
        keep = ~wrong
        active, grad, xa = active[keep], grad[keep], xa[keep]
        if active.numel() == 0:
            break
        step = alpha_t[active] * steepest_step(grad, norm)
        new = x[active] + project(xa.detach() + step - x[active], eps_t[active], norm)
        x_adv[active] = _clip(new, clip)
    return x_adv.detach()


def fgsm(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float | ArrayLike | torch.Tensor = 0.3,
    alpha: float | ArrayLike | torch.Tensor | None = None,
    random_init: bool = False,
    clip: ClipRange = (0.0, 1.0),
    random_state: RandomStateLike = None,
) -> torch.Tensor:
    """Fast gradient sign method: one signed step (Goodfellow et al. 2015).

    With ``random_init=True`` it is the "fast is better than free" variant
    (Wong et al. 2020): a uniform random start in the ball, then one step of
    ``alpha`` (default ``1.25 * eps``), projected back onto the ball.

    Parameters
    ----------
    model : callable
        Maps a batch to logits ``(batch, C)``.
    x : torch.Tensor of shape (batch, ...)
        Clean inputs.
    y : torch.Tensor of shape (batch,)
        True labels.
    eps : float or torch.Tensor of shape (batch,), default=0.3
        Linf radius.
    alpha : float or None, default=None
        Step size; ``eps`` without a random start, ``1.25 * eps`` with one.
    random_init : bool, default=False
        Start from a uniform random point of the ball.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid input range.
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the random start.

    Returns
    -------
    x_adv : torch.Tensor of x's shape
    """
    if alpha is None:  # per-example step from per-example radii
        alpha = (1.25 if random_init else 1.0) * as_eps(eps, x.detach()).reshape(-1)
    return pgd(
        model,
        x,
        y,
        eps=eps,
        alpha=alpha,
        steps=1,
        norm="inf",
        random_init=random_init,
        clip=clip,
        random_state=random_state,
    )


def _clip(x, clip):
    return x if clip is None else x.clamp(clip[0], clip[1])
