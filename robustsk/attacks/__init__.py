"""Adversarial attacks on torch models: batched, with per-sample radii, inside the ball and
the valid range."""

from ._deepfool import deepfool
from ._pgd import fgsm, pgd

__all__ = ["deepfool", "fgsm", "pgd"]
