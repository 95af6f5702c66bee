"""Shared helpers: random state, devices and input validation."""

from ._device import available_devices, check_device, resolve_device
from ._io import write_csv
from ._modes import eval_mode
from ._random import check_random_state_param, draw_seed, numpy_generator, torch_generator
from ._threads import torch_threads, worker_threads
from ._validation import (
    check_batch,
    check_clip,
    check_number,
    check_options,
    check_per_sample,
)

__all__ = [
    "available_devices",
    "check_batch",
    "check_clip",
    "check_device",
    "check_number",
    "check_options",
    "check_per_sample",
    "check_random_state_param",
    "draw_seed",
    "eval_mode",
    "numpy_generator",
    "resolve_device",
    "torch_generator",
    "torch_threads",
    "worker_threads",
    "write_csv",
]
