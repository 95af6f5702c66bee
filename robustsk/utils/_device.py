"""Device resolution shared by estimators and perturbations."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None) -> str | torch.device | None:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``.

    Any other value (``"cpu"``, ``"cuda:1"``, a :class:`torch.device`, ``None``)
    is returned unchanged.
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
