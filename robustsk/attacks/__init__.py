"""Adversarial attacks on torch models: batched, with per-sample radii, inside the ball and
the valid range."""

from ._cw import carlini_wagner_l2
from ._deepfool import deepfool
from ._pgd import fgsm, pgd

__all__ = ["carlini_wagner_l2", "deepfool", "fgsm", "pgd"]
