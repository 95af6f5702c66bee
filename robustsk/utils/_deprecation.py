"""Renamed parameters: the old name keeps working for one release, with a warning.

Two shapes, one message. A function or a configuration's ``__init__`` is wrapped
by :func:`renamed_kwargs`, which maps an old keyword to the new one. An
estimator cannot rename that way (``get_params``, ``set_params``, ``clone`` and
grid searches use the parameter names of ``__init__``), so it keeps the old name
as an ``__init__`` parameter whose default is :data:`DEPRECATED` and calls
:func:`resolve_renamed` when it starts work: a value set under the old name is
used, with the warning, unless the new name was set too, which is an error.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

#: Default of a renamed estimator parameter: "not set under its old name".
DEPRECATED = "deprecated"

#: The release in which the old names of :data:`RENAMED_IN` stop working.
REMOVED_IN = "0.3"
#: The release that renamed them.
RENAMED_IN = "0.2"

F = TypeVar("F", bound=Callable[..., Any])


def rename_message(owner: str, old: str, new: str, how: str = "") -> str:
    """The warning for ``old``, renamed ``new`` (``how``: how to write the value)."""
    return (
        f"{owner}: {old} was renamed {new} in robustsk {RENAMED_IN} and will stop working "
        f"in {REMOVED_IN}; pass {how or new + '='} instead."
    )


def renamed_kwargs(renames: Mapping[str, str]) -> Callable[[F], F]:
    """Decorate a function so that each old keyword of ``renames`` (old -> new) still works.

    The old keyword gives a :class:`FutureWarning` and is passed on under its new
    name; giving both is a :class:`TypeError`. The signature shown (``help``,
    ``inspect.signature``) is the function's own, with the new names only.
    """

    def decorate(func: F) -> F:
        owner = func.__qualname__.replace(".__init__", "")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{owner}: got {old}= and {new}=; {old} is the old name of "
                            f"{new}, pass {new}= only."
                        )
                    warnings.warn(rename_message(owner, old, new), FutureWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def resolve_renamed(
    obj: Any,
    old: str,
    new: str,
    default: Any,
    *,
    how: str = "",
    convert: Callable[[Any], Any] | None = None,
) -> Any:
    """The value of estimator parameter ``new``, taking ``old`` if it was set instead.

    Parameters
    ----------
    obj : object
        The estimator.
    old, new : str
        The old and the new parameter name.
    default : object
        ``new``'s default in ``__init__``: a ``new`` still at its default gives way
        to a set ``old``; a ``new`` set to anything else with a set ``old`` is an
        error, since one of them would be ignored.
    how : str, default=""
        How to write the value under the new name, for the warning.
    convert : callable or None, default=None
        Turns the old value into the new parameter's form.

    Returns
    -------
    value : object
        What ``new`` should be.
    """
    old_value = getattr(obj, old, DEPRECATED)
    new_value = getattr(obj, new)
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    owner = type(obj).__name__
    if not _same(new_value, default):
        raise ValueError(
            f"{owner}: got {old}={old_value!r} and {new}={new_value!r}; {old} is the old "
            f"name of {new}, set {new} only."
        )
    warnings.warn(rename_message(owner, old, new, how), FutureWarning, stacklevel=3)
    return convert(old_value) if convert is not None else old_value


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) if type(a) is type(b) else a is b
    except (TypeError, ValueError):  # arrays and the like
        return a is b
