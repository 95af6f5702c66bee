"""Global options of robustsk's inference engines: ``get_config``, ``set_config`` and
``config_context``, the scikit-learn way (thread-local)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

_DEFAULTS: dict[str, Any] = {
    "inference_precision": "float32",
    "inference_channels_last": False,
    "inference_compile": False,
}
#: The precisions an inference engine may run its forward passes in.
PRECISIONS = ("float32", "bfloat16", "float16")
_local = threading.local()


def _current() -> dict[str, Any]:
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config() -> dict[str, Any]:
    """The current values of robustsk's global options (a copy).

    Returns
    -------
    config : dict
        ``inference_precision``, ``inference_channels_last`` and
        ``inference_compile``; see :func:`set_config`.
    """
    return dict(_current())


def _checked(name: str, value: Any) -> Any:
    if name == "inference_precision":
        if value not in PRECISIONS:
            raise ValueError(
                f"inference_precision must be one of {', '.join(PRECISIONS)}, got {value!r}."
            )
    elif not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__}).")
    return value


def set_config(
    inference_precision: str | None = None,
    inference_channels_last: bool | None = None,
    inference_compile: bool | None = None,
) -> None:
    """Set robustsk's global options for this thread (None leaves an option as it is).

    They apply to the engines that only run a fitted network forward, many
    times: the RPR engine (``rpr_steps``, ``rpr_score``, ``RPRScorer``), pool
    scoring under noise (``noise_entropy``, ``noise_uncertainty`` and the AQPL
    strategies), the simulated annotator (``SimulatedOracle``) and randomized
    smoothing (``SmoothedClassifier``). Training, attacks and bounds always run
    in float32.

    Parameters
    ----------
    inference_precision : {"float32", "bfloat16", "float16"}, default="float32"
        Forward passes under ``torch.autocast`` to this dtype (bfloat16 on CPUs
        with AVX512-BF16 or AMX, float16 on GPUs). Outputs are returned in
        float32. Not bit-identical: class decisions agree on all but rare
        near-ties (measured in ``benchmarks/bench_inference.py``), probabilities
        to about 1e-2.
    inference_channels_last : bool, default=False
        Pass 4-d inputs to the network in NHWC memory layout (the same values;
        faster convolutions on some CPUs).
    inference_compile : bool, default=False
        Run the network through ``torch.compile`` (compiled once per network and
        kept while the network lives; the first call pays the compilation).
        Same results up to float rounding.

    Examples
    --------
    >>> import robustsk
    >>> with robustsk.config_context(inference_precision="bfloat16"):
    ...     robustsk.get_config()["inference_precision"]
    'bfloat16'
    >>> robustsk.get_config()["inference_precision"]
    'float32'

    The options are per thread, like scikit-learn's; robustsk's own joblib
    pool scoring (``n_jobs``) carries them into its workers.
    """
    given = {
        "inference_precision": inference_precision,
        "inference_channels_last": inference_channels_last,
        "inference_compile": inference_compile,
    }
    changes = {k: _checked(k, v) for k, v in given.items() if v is not None}
    _current().update(changes)


@contextlib.contextmanager
def config_context(**options: Any) -> Iterator[None]:
    """Set robustsk's global options (see :func:`set_config`) for a block, then restore them.

    Parameters
    ----------
    **options
        ``inference_precision``, ``inference_channels_last``, ``inference_compile``.
    """
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise TypeError(
            f"config_context got unknown options {unknown}; known: {', '.join(_DEFAULTS)}."
        )
    old = get_config()
    set_config(**options)
    try:
        yield
    finally:
        _current().clear()
        _current().update(old)


def _call_with_config(fn: Callable[..., Any], config: dict[str, Any], *args, **kwargs) -> Any:
    with config_context(**config):
        return fn(*args, **kwargs)


def with_config(fn: Callable[..., Any], config: dict[str, Any] | None = None) -> Callable[..., Any]:
    """``fn`` run under ``config`` (default: the calling thread's options now), for a
    joblib worker, which has its own thread or process (picklable when ``fn`` is)."""
    return functools.partial(_call_with_config, fn, get_config() if config is None else config)
