"""Adversarial attacks on torch models, batched."""

from ._deepfool import deepfool

__all__ = ["deepfool"]
