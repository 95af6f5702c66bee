"""Pieces shared by the perturbation-training hooks: which rows to perturb, and the
CAT-style rule that adapts a per-example level."""

from __future__ import annotations

import numpy as np
import torch


def choose_rows(n: int, share: float, generator: torch.Generator) -> torch.Tensor:
    """Random rows of a batch of ``n``, ``share * n`` of them in expectation (exactly when
    integral), as a CPU index tensor. Tiny batches still get their share on average."""
    device = generator.device
    expected = share * n
    count = int(expected) + int(torch.rand((), generator=generator, device=device) < expected % 1)
    return torch.randperm(n, generator=generator, device=device)[:count].cpu()


def adapt_levels(
    levels: np.ndarray, ids: np.ndarray, correct: np.ndarray, step: float, bounds
) -> None:
    """CAT's rule, in place: ``level += step`` where the perturbed copy was classified
    correctly, ``level -= step`` where it was not, clipped to ``bounds``."""
    delta = np.where(correct, step, -step).astype(levels.dtype)
    levels[ids] = np.clip(levels[ids] + delta, bounds[0], bounds[1])
