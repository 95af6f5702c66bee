"""Shared helpers: random state, devices and input validation.

The bottom layer of robustsk: it imports nothing from the other subpackages. Besides the
public helpers of ``__all__``, it holds what the other subpackages share without making it
public API (re-exported below as ``name as name``): the declared parameter constraints
(``_parameter_constraints`` and ``validate_params``), the one layer that reaches into a
fitted torch net (``TorchClassifier``: module, device, outputs, log-probabilities, a
Pipeline composed into one torch module), row batching, joblib pool scoring and the type
aliases of the public signatures.
"""

# Shared with the other subpackages, not public API (hence not in __all__).
from ._config import config_context, get_config, set_config, with_config as with_config
from ._constraints import (
    Boolean as Boolean,
    Constraint as Constraint,
    Device as Device,
    HasMethods as HasMethods,
    InstanceOf as InstanceOf,
    Interval as Interval,
    IsCallable as IsCallable,
    NJobs as NJobs,
    Options as Options,
    ParameterConstraints as ParameterConstraints,
    PerSample as PerSample,
    RandomState as RandomState,
    Range as Range,
    Sized as Sized,
    check_param as check_param,
    declare_params as declare_params,
    declared_constraints as declared_constraints,
    invalid_values as invalid_values,
    validate_params as validate_params,
)
from ._deprecation import (
    DEPRECATED as DEPRECATED,
    rename_message as rename_message,
    renamed_kwargs as renamed_kwargs,
    resolve_renamed as resolve_renamed,
)
from ._device import available_devices, check_device, resolve_device
from ._docstrings import fill_doc as fill_doc
from ._io import write_csv
from ._modes import eval_mode
from ._parallel import (
    DEFAULT_BLOCK_SIZE as DEFAULT_BLOCK_SIZE,
    check_n_jobs as check_n_jobs,
    check_parallel as check_parallel,
    map_pool as map_pool,
)
from ._progress import is_interactive as is_interactive, progress_bar as progress_bar
from ._quota import (
    proportional_quotas as proportional_quotas,
    stratified_sample as stratified_sample,
)
from ._random import check_random_state_param, draw_seed, numpy_generator, torch_generator
from ._threads import torch_threads, worker_threads
from ._torch_pipeline import is_pipeline as is_pipeline
from ._torchnet import (
    TorchClassifier as TorchClassifier,
    batches as batches,
    float32_tensor as float32_tensor,
)
from ._types import ClipRange as ClipRange, RandomStateLike as RandomStateLike
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
    "config_context",
    "draw_seed",
    "eval_mode",
    "get_config",
    "numpy_generator",
    "resolve_device",
    "set_config",
    "torch_generator",
    "torch_threads",
    "worker_threads",
    "write_csv",
]
