"""What a level query may hold: one set of rules for the HTTP boundary and the store.

Every check raises :class:`QueryFieldError` (a ``ValueError``) naming the field,
so the server answers a bad request with a 422 that says which field is wrong,
and a Python caller of :meth:`QueryStore.add` cannot store a row that would
later fail to load.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: Largest number of values in one example (``prod(shape)``), e.g. 3 x 256 x 256 = 196,608.
MAX_VALUES = 1 << 18
#: Most dimensions of one example: ``(d,)``, ``(h, w)``, ``(c, h, w)`` or ``(t, c, h, w)``.
MAX_DIMS = 4
#: Most rungs on one ladder (AQPL's protocol uses 91).
MAX_LEVELS = 1000
#: Longest label string.
MAX_LABEL_CHARS = 256
#: SQLite's INTEGER range, which bounds query ids, example ids and seeds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Largest float32 magnitude: examples and levels are rendered in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Levels are compared after rounding to this many decimals.
SIGMA_DECIMALS = 10
#: Longest annotator name.
MAX_ANNOTATOR_CHARS = 64
#: The annotator of a request that names none (and of answers stored before annotators).
DEFAULT_ANNOTATOR = "default"
#: Most live skips of one query (one per annotator): a skip past it displaces the oldest
#: live skip, which is kept withdrawn (``why = "displaced"``). Skips never block an answer.
MAX_LIVE_SKIPS_PER_QUERY = 100
#: Most live responses of one query: at most ``answers_per_query`` (<= 100) answers, since a
#: settled query takes no more, plus at most :data:`MAX_LIVE_SKIPS_PER_QUERY` skips. Only
#: live responses count: undone and superseded ones never fill a query up.
MAX_RESPONSES_PER_QUERY = 200
#: Most withdrawn (undone, superseded or displaced) responses kept per query; past it the
#: oldest withdrawn ones are deleted, so a query's history stays bounded whatever a client does.
MAX_WITHDRAWN_PER_QUERY = 100
#: Longest ``settle_time`` a collection may ask for, in seconds (one day).
MAX_SETTLE_TIME = 86400.0
#: What a person can say of a query: a level on its ladder, that the content is not
#: recognisable at any level, or that they pass it on (skip).
CHOICES = ("level", "unrecognisable", "skip")

_ANNOTATOR = re.compile(r"[^\W_](?:[\w .@-]*[\w.@-])?")


class QueryFieldError(ValueError):
    """A query field holds a value the server does not accept.

    Parameters
    ----------
    field : str
        The field's name (``"x"``, ``"sigmas"``, ...).
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise QueryFieldError(field, f"must be an integer, got {type(value).__name__}")
    if not low <= int(value) <= high:
        raise QueryFieldError(field, f"must be in [{low}, {high}]")
    return int(value)


def _real(value: Any, field: str, *, low: float = -FLOAT32_MAX) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise QueryFieldError(field, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= FLOAT32_MAX:
        raise QueryFieldError(field, f"must be a finite number in [{low:g}, {FLOAT32_MAX:g}]")
    return value


def check_example(example: Any) -> int:
    """Return ``example`` (the learner's id of the example) as an int in SQLite's range."""
    return _integer(example, "example", INT64_MIN, INT64_MAX)


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int in ``[0, 2**63 - 1]`` (what the noise generator accepts)."""
    return _integer(seed, "seed", 0, INT64_MAX)


def check_shape(shape: Sequence[Any], n_values: int) -> tuple[int, ...]:
    """Return ``shape`` as a tuple, checked against the number of values sent.

    Parameters
    ----------
    shape : sequence of int
        One to :data:`MAX_DIMS` dimensions, each >= 1, whose product is ``n_values``.
    n_values : int
        How many values ``x`` holds.

    Returns
    -------
    shape : tuple of int
    """
    if not 1 <= len(shape) <= MAX_DIMS:
        raise QueryFieldError("shape", f"must have 1 to {MAX_DIMS} dimensions, got {len(shape)}")
    dims = tuple(_integer(d, "shape", 1, MAX_VALUES) for d in shape)
    size = math.prod(dims)
    if size > MAX_VALUES:
        raise QueryFieldError("shape", f"holds {size} values; at most {MAX_VALUES} are allowed")
    if size != n_values:
        raise QueryFieldError("shape", f"{list(dims)} needs {size} values but x has {n_values}")
    return dims


def check_x(x: ArrayLike) -> np.ndarray:
    """Return the example as a finite float32 array of at most :data:`MAX_VALUES` values."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise QueryFieldError("x", "must be an array of numbers") from None
    if not 1 <= arr.ndim <= MAX_DIMS:
        raise QueryFieldError("x", f"must have 1 to {MAX_DIMS} dimensions, got {arr.ndim}")
    if not 1 <= arr.size <= MAX_VALUES:
        raise QueryFieldError("x", f"must hold 1 to {MAX_VALUES} values, got {arr.size}")
    if not (np.isfinite(arr) & (np.abs(arr) <= FLOAT32_MAX)).all():
        raise QueryFieldError("x", "every value must be a finite float32 number")
    return np.ascontiguousarray(arr.astype(np.float32))


def check_sigmas(sigmas: ArrayLike | Iterable[float]) -> list[float]:
    """Return the ladder as strictly increasing floats >= 0, rounded to 10 decimals."""
    seq: Any = sigmas
    try:
        if not isinstance(seq, (np.ndarray, list, tuple)):
            seq = list(seq)  # an iterable such as a generator, or a TypeError
        arr = np.asarray(seq, dtype=np.float64)
    except (TypeError, ValueError):
        raise QueryFieldError("sigmas", "must be a list of numbers") from None
    if arr.ndim != 1 or not 1 <= arr.size <= MAX_LEVELS:
        raise QueryFieldError("sigmas", f"must be a flat list of 1 to {MAX_LEVELS} levels")
    if not (np.isfinite(arr) & (arr >= 0) & (arr <= FLOAT32_MAX)).all():
        raise QueryFieldError("sigmas", "every level must be a finite number >= 0")
    levels = [round(float(s), SIGMA_DECIMALS) for s in arr]
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise QueryFieldError("sigmas", "levels must be strictly increasing")
    return levels


def check_level(value: Any, field: str) -> float:
    """Return a noise level (``field`` names it in errors) as a finite float >= 0."""
    return _real(value, field, low=0.0)


def check_current_sigma(current_sigma: Any) -> float:
    """Return the example's current level as a finite float >= 0."""
    return check_level(current_sigma, "current_sigma")


def check_label(label: Any) -> Any:
    """Return ``label`` as a JSON scalar: None, bool, int64, finite float or a short str."""
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or isinstance(label, bool):
        return label
    if isinstance(label, numbers.Integral):
        return _integer(label, "label", INT64_MIN, INT64_MAX)
    if isinstance(label, numbers.Real):
        return _real(label, "label")
    if isinstance(label, str):
        if len(label) > MAX_LABEL_CHARS:
            raise QueryFieldError("label", f"must be at most {MAX_LABEL_CHARS} characters")
        return label
    raise QueryFieldError(
        "label", f"must be null, a boolean, a number or a string, got {type(label).__name__}"
    )


def check_query(
    example: Any,
    x: ArrayLike,
    label: Any,
    sigmas: ArrayLike | Iterable[float],
    current_sigma: Any,
    seed: Any,
) -> tuple[int, np.ndarray, Any, list[float], float, int]:
    """Check every field of a level query and return them normalised.

    Parameters
    ----------
    example : int
        The learner's id of the example, in SQLite's 64-bit range.
    x : array-like of shape (...)
        The clean example: 1 to :data:`MAX_DIMS` dimensions, at most
        :data:`MAX_VALUES` finite float32 values.
    label : None, bool, int, float or str
        Its label (a string of at most :data:`MAX_LABEL_CHARS` characters).
    sigmas : array-like of shape (n_levels,)
        The ladder: 1 to :data:`MAX_LEVELS` finite levels >= 0, strictly increasing.
    current_sigma : float
        The example's current level, finite and >= 0.
    seed : int
        Seed of the ladder's noise pattern, in ``[0, 2**63 - 1]``.

    Returns
    -------
    example, x, label, sigmas, current_sigma, seed
        ``x`` as a float32 array, ``sigmas`` as a list of rounded floats.

    Raises
    ------
    QueryFieldError
        Naming the first field that is wrong.
    """
    return (
        check_example(example),
        check_x(x),
        check_label(label),
        check_sigmas(sigmas),
        check_current_sigma(current_sigma),
        check_seed(seed),
    )


def check_annotator(name: Any) -> str:
    """Return an annotator's name: 1 to :data:`MAX_ANNOTATOR_CHARS` letters, digits,
    spaces and ``. _ @ -``, starting with a letter or digit and not ending in a space.

    A name labels answers; it is not a credential (the token guards the app).
    """
    if not isinstance(name, str):
        raise QueryFieldError("annotator", f"must be a string, got {type(name).__name__}")
    if not 1 <= len(name) <= MAX_ANNOTATOR_CHARS or not _ANNOTATOR.fullmatch(name):
        raise QueryFieldError(
            "annotator",
            f"must be 1 to {MAX_ANNOTATOR_CHARS} letters, digits, spaces or . _ @ -, starting "
            "with a letter or digit and not ending in a space",
        )
    return name


def check_settle_time(settle_time: Any) -> float:
    """Return ``settle_time`` (seconds an answer must stand before it is collected) as a
    finite float in ``[0, MAX_SETTLE_TIME]``."""
    value = _real(settle_time, "settle_time", low=0.0)
    if value > MAX_SETTLE_TIME:
        raise QueryFieldError("settle_time", f"must be in [0, {MAX_SETTLE_TIME:g}]")
    return value


def check_choice(choice: Any) -> str:
    """Return ``choice``, one of :data:`CHOICES`."""
    if not isinstance(choice, str) or choice not in CHOICES:
        shown = choice if isinstance(choice, str) else type(choice).__name__
        raise QueryFieldError("choice", f"must be one of {', '.join(CHOICES)}; got {shown!r:.40}")
    return choice
