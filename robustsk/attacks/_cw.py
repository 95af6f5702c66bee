"""Carlini-Wagner L2: the smallest L2 perturbation found by optimisation, batched."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..utils import check_clip, check_number


def carlini_wagner_l2(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    c: float = 1.0,
    kappa: float = 0.0,
    steps: int = 100,
    lr: float = 0.01,
    clip: tuple[float, float] = (0.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carlini-Wagner's L2 attack (Carlini and Wagner 2017), one constant ``c`` for all.

    Minimises ``||x' - x||_2^2 + c * max(Z_y - max_{i != y} Z_i, -kappa)`` over
    ``x'`` in the box ``clip`` (the change of variables ``x' = low + (high - low)
    (tanh(w) + 1) / 2``) with Adam, every example of the batch at once, and keeps
    for each example the closest misclassified point seen. As torchattacks'
    ``CW``, it searches no constant: a larger ``c`` finds more adversarial
    examples at larger distances. Only input gradients are computed.

    Parameters
    ----------
    model : callable
        Maps a batch to logits or log-probabilities ``(batch, C)`` (the margin
        is the same for both).
    x : torch.Tensor of shape (batch, ...)
        Clean inputs, inside ``clip``.
    y : torch.Tensor of shape (batch,)
        True labels.
    c : float, default=1.0
        Weight of the misclassification term.
    kappa : float, default=0.0
        Confidence margin.
    steps : int, default=100
        Adam steps.
    lr : float, default=0.01
        Adam's learning rate (in the tanh space).
    clip : tuple (low, high), default=(0.0, 1.0)
        The box; CW needs one.

    Returns
    -------
    x_adv : torch.Tensor of x's shape
        The closest misclassified point found; ``x`` where none was.
    distance : torch.Tensor of shape (batch,)
        Its L2 distance to ``x``; ``inf`` where the attack failed.
    """
    check_number(c, "c", low=0.0, include_low=False)
    check_number(kappa, "kappa", low=0.0)
    check_number(steps, "steps", low=1, integer=True)
    check_number(lr, "lr", low=0.0, include_low=False)
    box = check_clip(clip)
    if box is None:
        raise ValueError("carlini_wagner_l2 needs a box: clip=(low, high), got None.")
    low, high = box
    x = x.detach()
    scale = high - low
    unit = ((x - low) / scale * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)
    w = torch.atanh(unit).requires_grad_(True)
    optimizer = torch.optim.Adam([w], lr=lr)
    best = x.clone()
    best_d2 = torch.full((x.shape[0],), float("inf"), device=x.device, dtype=x.dtype)
    onehot = torch.nn.functional.one_hot(y, num_classes=-1).bool()
    for _ in range(steps):
        x_new = low + scale * (torch.tanh(w) + 1) / 2
        z = model(x_new)
        if onehot.shape[1] != z.shape[1]:
            onehot = torch.nn.functional.one_hot(y, num_classes=z.shape[1]).bool()
        real = z[onehot]
        other = z.masked_fill(onehot, float("-inf")).amax(dim=1)
        d2 = (x_new - x).flatten(1).pow(2).sum(dim=1)
        loss = d2.sum() + c * (real - other).clamp(min=-kappa).sum()
        optimizer.zero_grad(set_to_none=True)
        (grad,) = torch.autograd.grad(loss, w)
        w.grad = grad
        optimizer.step()
        with torch.no_grad():
            better = (z.argmax(dim=1) != y) & (d2 < best_d2)
            best_d2 = torch.where(better, d2.detach(), best_d2)
            mask = better.reshape((-1,) + (1,) * (x.ndim - 1))
            best = torch.where(mask, x_new.detach(), best)
    return best, best_d2.sqrt()
