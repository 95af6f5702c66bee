"""DeepFool (L2, multi-class), batched over examples."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..utils import ClipRange, check_clip, check_number


def deepfool(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    overshoot: float = 0.02,
    max_iter: int = 50,
    clip: ClipRange = (0.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Smallest L2 perturbation that changes the model's decision (Moosavi-Dezfooli et al. 2016).

    All examples of the batch are attacked together; each leaves the loop as
    soon as its decision flips. Per iteration an active example costs one
    forward pass and one backward pass per class.

    Parameters
    ----------
    model : callable
        Maps a batch to logits (or log-probabilities) of shape ``(batch, C)``.
    x : torch.Tensor of shape (batch, ...)
        Clean inputs.
    overshoot : float, default=0.02
        Step past the linearized boundary.
    max_iter : int, default=50
        Iterations at most.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the adversarial examples.

    Returns
    -------
    x_adv : torch.Tensor of x's shape
        Adversarial examples (an example never flipped keeps its last iterate).
    distance : torch.Tensor of shape (batch,)
        L2 norm of ``x_adv - x``.
    fooled : torch.Tensor of shape (batch,), bool
        Whether the decision changed.
    """
    check_number(overshoot, "overshoot", low=0.0)
    check_number(max_iter, "max_iter", low=1, integer=True)
    clip = check_clip(clip)
    x = x.detach()
    n = x.shape[0]
    with torch.no_grad():
        label = model(x).argmax(dim=1)  # (batch,)
    r_total = torch.zeros_like(x)
    fooled = torch.zeros(n, dtype=torch.bool, device=x.device)
    x_adv = x.clone()
    for _ in range(max_iter):
        active = (~fooled).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        xa = x[active] + (1 + overshoot) * r_total[active]
        if clip is not None:
            xa = xa.clamp(*clip)
        xa.requires_grad_(True)
        logits = model(xa)  # (a, C)
        now = logits.argmax(dim=1)
        flipped = now != label[active]
        x_adv[active] = xa.detach()
        fooled[active[flipped]] = True
        keep = ~flipped
        if not keep.any():
            break
        n_classes = logits.shape[1]
        grads = torch.stack(
            [
                torch.autograd.grad(logits[:, k].sum(), xa, retain_graph=k < n_classes - 1)[0]
                for k in range(n_classes)
            ],
            dim=1,
        )  # (a, C, ...)
        idx = active[keep]
        g = grads[keep].flatten(2)  # (k, C, d)
        lg = logits.detach()[keep]  # (k, C)
        y = label[idx]
        g_y = g[torch.arange(len(idx)), y].unsqueeze(1)  # (k, 1, d)
        w = g - g_y  # (k, C, d)
        f = lg - lg.gather(1, y.unsqueeze(1))  # (k, C)
        w_norm = w.norm(dim=2).clamp_min(1e-12)
        ratio = f.abs() / w_norm
        ratio[torch.arange(len(idx)), y] = float("inf")
        best = ratio.argmin(dim=1)  # (k,)
        w_best = w[torch.arange(len(idx)), best]  # (k, d)
        step = (
            (ratio[torch.arange(len(idx)), best] + 1e-4) / w_norm[torch.arange(len(idx)), best]
        ).unsqueeze(1) * w_best
        r_total[idx] += step.reshape((len(idx),) + x.shape[1:])
    distance = (x_adv - x).flatten(1).norm(dim=1)
    return x_adv, distance, fooled
