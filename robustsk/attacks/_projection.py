"""Norm-ball geometry shared by the gradient attacks."""

from __future__ import annotations

import torch

from ..perturb import expand_per_sample

NORMS = ("inf", "2")


def as_eps(eps, x: torch.Tensor) -> torch.Tensor:
    """Per-sample radius as a tensor broadcastable to ``x`` (from a float or a (batch,) tensor)."""
    eps = torch.as_tensor(eps, dtype=x.dtype, device=x.device)
    if eps.ndim == 0:
        eps = eps.expand(x.shape[0])
    if eps.shape != (x.shape[0],):
        raise ValueError(
            f"eps must be a scalar or have shape ({x.shape[0]},), got {tuple(eps.shape)}."
        )
    if (eps < 0).any() or not torch.isfinite(eps).all():
        raise ValueError("eps must be finite and >= 0.")
    return expand_per_sample(eps, x)


def flat_norm(t: torch.Tensor) -> torch.Tensor:
    """L2 norm of each example, shaped to broadcast over ``t``."""
    return expand_per_sample(t.flatten(1).norm(dim=1), t)


def project(delta: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    """Project perturbations onto the ``norm`` ball of radius ``eps`` (per sample)."""
    if norm == "inf":
        return torch.maximum(torch.minimum(delta, eps), -eps)
    scale = (eps / flat_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def steepest_step(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Unit steepest-ascent direction: the sign for Linf, the normalized gradient for L2."""
    if norm == "inf":
        return grad.sign()
    return grad / flat_norm(grad).clamp_min(1e-12)


def random_start(x: torch.Tensor, eps: torch.Tensor, norm: str, generator) -> torch.Tensor:
    """A uniform random point of the ball.

    Linf: uniform per coordinate; L2: a random direction and a uniform radius.
    """
    if norm == "inf":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (2 * u - 1) * eps
    d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    r = torch.rand((x.shape[0],), generator=generator, device=x.device, dtype=x.dtype)
    return d / flat_norm(d).clamp_min(1e-12) * expand_per_sample(r, x) * eps
