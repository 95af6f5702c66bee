"""Device resolution and validation shared by estimators and perturbations."""

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


def available_devices() -> list[str]:
    """The devices this torch build can compute on here.

    Returns
    -------
    devices : list of str
        ``"cpu"``, then ``"cuda:0"``, ``"cuda:1"``, ... for each visible GPU,
        then ``"mps"`` where Apple's Metal backend is available.

    Examples
    --------
    >>> "cpu" in available_devices()
    True
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(
    device: str | torch.device | None, name: str = "device", *, allow_none: bool = True
) -> None:
    """Raise a ``ValueError`` unless ``device`` is one this torch can use here.

    ``"auto"`` is always accepted, and ``None`` (the module stays where it is)
    when ``allow_none``. Anything else must parse as a :class:`torch.device`
    and accept a tensor: ``"cuda"`` on a machine without a usable GPU, an index
    past the last GPU or an unknown name fail here, with the devices available,
    instead of deep inside the first batch.

    Parameters
    ----------
    device : str, torch.device or None
        The value to check.
    name : str, default="device"
        The parameter name used in the message.
    allow_none : bool, default=True
        Whether ``None`` is allowed.

    Raises
    ------
    TypeError
        ``device`` is not a str, torch.device or None.
    ValueError
        ``device`` is not usable here.

    Examples
    --------
    >>> check_device("cpu")
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device='tpu' is not a torch device; devices available: 'cpu', ...
    """
    if device is None:
        if allow_none:
            return
        raise ValueError(f"{name}=None is not allowed here; devices available: {_listing()}.")
    if isinstance(device, str) and device == "auto":
        return
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"{name} must be a str or torch.device, got {type(device).__name__} ({device!r})."
        )
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"{name}={device!r} is not a torch device; devices available: {_listing()}, "
            'or "auto" for the best of them.'
        ) from None
    if parsed.type == "meta":
        raise ValueError(
            f"{name}={device!r} holds no data, so nothing can be trained or evaluated on it; "
            f'devices available: {_listing()}, or "auto" for the best of them.'
        )
    try:
        torch.empty(0, device=parsed)
    except Exception as exc:  # torch raises AssertionError, RuntimeError, ... by backend
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{name}={device!r} cannot be used on this machine ({reason}); devices available: "
            f'{_listing()}, or "auto" for the best of them.'
        ) from None


def _listing() -> str:
    return ", ".join(repr(d) for d in available_devices())
