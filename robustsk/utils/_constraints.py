"""Declared parameter constraints: what each parameter of a class accepts, written once.

A class lists its parameters' constraints in ``_parameter_constraints``, a dict
``{name: [constraint, ...]}`` in the manner of scikit-learn's (whose ``Interval``
and ``StrOptions`` are private); a value is valid when any constraint of its list
accepts it, and ``None`` in a list accepts ``None``. A subclass declares only its
own parameters (or those it constrains differently): :func:`declared_constraints`
merges the dicts along the MRO, so nothing is chained by hand.
:func:`validate_params` checks every declared parameter of an object once, at the
start of the work (``fit``, ``initialize``, a perturbation's call); a check that
relates several parameters stays an explicit line after it.

Every constraint

* checks a value with the message style of the ``check_*`` helpers: ``"<name>
  must be <what is allowed>, got <value>."``, a :class:`TypeError` for a value
  of the wrong kind and a :class:`ValueError` for one of the right kind out of
  range;
* proposes values it rejects (:meth:`Constraint.invalid_values`), from which
  :func:`invalid_values` builds bad values of a whole parameter for tests.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ._device import check_device
from ._random import check_random_state_param
from ._validation import check_clip, check_number, check_per_sample

#: The dict a class declares: parameter name -> the constraints of which one must hold.
ParameterConstraints = dict[str, list[Any]]


class Constraint:
    """One thing a parameter may be; the base of every constraint.

    Subclasses implement :meth:`check` (raise, naming the parameter, unless the
    value is allowed), :meth:`describe` (what is allowed, for a message listing
    several constraints) and :meth:`invalid_values`.
    """

    def check(self, value: Any, name: str) -> None:
        """Raise ``TypeError``/``ValueError`` naming ``name`` unless ``value`` is allowed."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the constraint allows, e.g. ``"an int in [1, inf]"``."""
        raise NotImplementedError

    def matches_type(self, value: Any) -> bool:
        """Whether ``value`` is of the kind this constraint is about (then its own
        message, e.g. an interval's, is the one to show)."""
        return True

    def invalid_values(self) -> list[Any]:
        """Values this constraint rejects (examples for tests)."""
        return []

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is allowed."""
        try:
            self.check(value, "value")
        except (TypeError, ValueError):
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


class _NoneConstraint(Constraint):
    """``None`` (written as ``None`` in a constraint list)."""

    def check(self, value: Any, name: str) -> None:
        if value is not None:
            raise TypeError(f"{name} must be None, got {value!r}.")

    def describe(self) -> str:
        return "None"

    def matches_type(self, value: Any) -> bool:
        return value is None

    def invalid_values(self) -> list[Any]:
        return [0]


class Interval(Constraint):
    """A real (or integer) number in an interval, as :func:`check_number` checks it.

    Parameters
    ----------
    low, high : float or None, default=None
        Ends of the interval; None is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which ends belong to the interval.
    integer : bool, default=False
        Whether the number must be an int (bools are refused either way).
    """

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        closed: str = "both",
        integer: bool = False,
    ):
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(
                f"closed must be one of ['both', 'left', 'neither', 'right'], got {closed!r}."
            )
        self.low, self.high, self.closed, self.integer = low, high, closed, integer

    @property
    def _include_low(self) -> bool:
        return self.closed in ("both", "left")

    @property
    def _include_high(self) -> bool:
        return self.closed in ("both", "right")

    def check(self, value: Any, name: str) -> None:
        check_number(
            value,
            name,
            low=self.low,
            high=self.high,
            integer=self.integer,
            include_low=self._include_low,
            include_high=self._include_high,
        )

    def describe(self) -> str:
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        interval = (
            ("[" if self._include_low else "(")
            + f"{lo}, {hi}"
            + ("]" if self._include_high else ")")
        )
        return f"{'an int' if self.integer else 'a real number'} in {interval}"

    def matches_type(self, value: Any) -> bool:
        kind = numbers.Integral if self.integer else numbers.Real
        return isinstance(value, kind) and not isinstance(value, bool)

    def invalid_values(self) -> list[Any]:
        step = 1 if self.integer else 0.5
        bad: list[Any] = ["1"]
        if self.low is not None:
            bad.append(self.low - step if self._include_low else self.low)
        if self.high is not None:
            bad.append(self.high + step if self._include_high else self.high)
        bad.append(1.5 if self.integer else float("nan"))
        return bad


class Options(Constraint):
    """One of a set of values (as :func:`check_options` checks it).

    Parameters
    ----------
    options : collection
        The allowed values. A set is listed sorted in messages; a list or a
        tuple in its own order.
    """

    def __init__(self, options: Collection[Any]):
        self.options = options
        self._listed = sorted(options) if isinstance(options, (set, frozenset)) else list(options)

    def check(self, value: Any, name: str) -> None:
        try:
            allowed = value in self.options
        except (TypeError, ValueError):  # unhashable, or an array compared element-wise
            allowed = False
        if not allowed:
            raise ValueError(f"{name} must be one of {self._listed!r}, got {value!r}.")

    def describe(self) -> str:
        return f"one of {self._listed!r}"

    def matches_type(self, value: Any) -> bool:
        return any(isinstance(value, type(option)) for option in self._listed)

    def invalid_values(self) -> list[Any]:
        return [value for value in ("not-an-option", None, ["list"]) if value not in self._listed]


class Boolean(Constraint):
    """A bool (Python's or numpy's)."""

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__}).")

    def describe(self) -> str:
        return "a bool"

    def matches_type(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def invalid_values(self) -> list[Any]:
        return ["yes", 1]


class IsCallable(Constraint):
    """A callable (a function, a class, an object with ``__call__``)."""

    def check(self, value: Any, name: str) -> None:
        if not callable(value):
            raise TypeError(f"{name} must be callable, got {value!r}.")

    def describe(self) -> str:
        return "callable"

    def matches_type(self, value: Any) -> bool:
        return callable(value)

    def invalid_values(self) -> list[Any]:
        return ["not callable"]


class HasMethods(Constraint):
    """An object with the named methods.

    Parameters
    ----------
    *methods : str
        The methods it must have.
    description : str or None, default=None
        How the message says it, e.g. ``"an answer(queries) method"``.
    """

    def __init__(self, *methods: str, description: str | None = None):
        self.methods = methods
        self.description = description or "the methods " + ", ".join(f"{m}()" for m in methods)

    def check(self, value: Any, name: str) -> None:
        if not all(callable(getattr(value, m, None)) for m in self.methods):
            raise TypeError(f"{name} must have {self.description}, got {value!r}.")

    def describe(self) -> str:
        return f"an object with {self.description}"

    def invalid_values(self) -> list[Any]:
        return ["no methods"]


class InstanceOf(Constraint):
    """An instance of one of the given types.

    Parameters
    ----------
    *types : type
        The accepted types.
    description : str or None, default=None
        How the message says it, e.g. ``"a path (str or os.PathLike)"``.
    """

    def __init__(self, *types: type, description: str | None = None):
        self.types = types
        self.description = description or "an instance of " + " or ".join(t.__name__ for t in types)

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, self.types):
            raise TypeError(
                f"{name} must be {self.description}, got {value!r} ({type(value).__name__})."
            )

    def describe(self) -> str:
        return self.description

    def matches_type(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def invalid_values(self) -> list[Any]:
        return [1.5]


class Sized(Constraint):
    """A sequence of a given length, e.g. ``(sigma_min, sigma_max, step)``.

    Parameters
    ----------
    length : int
        The number of items.
    description : str
        How the message says it, e.g. ``"(sigma_min, sigma_max, step)"``.
    """

    def __init__(self, length: int, description: str):
        self.length, self.description = length, description

    def check(self, value: Any, name: str) -> None:
        try:
            n = len(value)
        except TypeError:
            raise TypeError(f"{name} must be {self.description}, got {value!r}.") from None
        if isinstance(value, (str, bytes)) or n != self.length:
            raise ValueError(f"{name} must be {self.description}, got {value!r}.")

    def describe(self) -> str:
        return self.description

    def matches_type(self, value: Any) -> bool:
        return hasattr(value, "__len__")

    def invalid_values(self) -> list[Any]:
        return [(0,) * (self.length + 1), 0.5]


class Range(Constraint):
    """A valid value range ``(low, high)`` with ``low < high``, such as ``clip``.

    ``None`` is not a range: write ``[None, Range()]`` where it is allowed.

    Parameters
    ----------
    check : callable, default=check_clip
        ``check(value, name)``, raising for a bad pair (a pair of numbers by
        default; the perturbations pass their checker, which also takes
        per-feature arrays).
    at_least : float or None, default=None
        A smallest allowed ``low`` (``0.0`` for noise levels).
    none_error : str or None, default=None
        The message for ``None`` where a class cannot do without a range (say
        why, and what to pass); by default ``"<name> must be a pair ..., got None."``.
    """

    def __init__(
        self,
        check: Callable[[Any, str], Any] = check_clip,
        *,
        at_least: float | None = None,
        none_error: str | None = None,
    ):
        self.checker, self.at_least, self.none_error = check, at_least, none_error

    def check(self, value: Any, name: str) -> None:
        if value is None:
            raise ValueError(self.none_error or f"{name} must be {self.describe()}, got None.")
        bounds = self.checker(value, name)
        if self.at_least is not None and np.any(np.asarray(bounds[0]) < self.at_least):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}.")

    def describe(self) -> str:
        if self.at_least is not None:
            return f"a pair {self.at_least!r} <= low < high"
        return "a pair (low, high) with low < high"

    def matches_type(self, value: Any) -> bool:
        return value is not None

    def invalid_values(self) -> list[Any]:
        bad: list[Any] = [(1.0, 0.0), 5, None]
        if self.at_least is not None:
            bad.append((self.at_least - 1.0, self.at_least + 1.0))
        return bad


class RandomState(Constraint):
    """A ``random_state``: None, a non-negative int, a numpy or torch generator
    (:func:`check_random_state_param`)."""

    def check(self, value: Any, name: str) -> None:
        check_random_state_param(value, name)

    def describe(self) -> str:
        return "None, an int, a numpy Generator/RandomState or a torch.Generator"

    def invalid_values(self) -> list[Any]:
        return [-1, "seed"]


class Device(Constraint):
    """A torch device this machine can use, ``"auto"`` or None (:func:`check_device`)."""

    def check(self, value: Any, name: str) -> None:
        check_device(value, name)

    def describe(self) -> str:
        return '"auto", None or a torch device available here'

    def invalid_values(self) -> list[Any]:
        return ["tpu", 3.5]


class NJobs(Constraint):
    """An ``n_jobs``: None or a non-zero int, as in joblib and scikit-learn (the
    values :func:`check_n_jobs` accepts)."""

    def check(self, value: Any, name: str) -> None:
        if value is None:
            return
        check_number(value, name, integer=True)
        if value == 0:
            raise ValueError(
                f"{name} must be None, a positive int or a negative int (joblib), got 0."
            )

    def describe(self) -> str:
        return "None or a non-zero int"

    def matches_type(self, value: Any) -> bool:
        return value is None or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool)
        )

    def invalid_values(self) -> list[Any]:
        return [0, 1.5, "2"]


class PerSample(Constraint):
    """A number ``>= low``, or one per sample (a 1-d array).

    The array's length is the batch's, known only with the data: it is checked
    then (:func:`check_per_sample`); here an array is checked for finite numbers
    ``>= low`` only.

    Parameters
    ----------
    low : float or None, default=0.0
        Smallest allowed value.
    """

    def __init__(self, low: float | None = 0.0):
        self.low = low

    def check(self, value: Any, name: str) -> None:
        try:
            ndim = value.ndim if isinstance(value, torch.Tensor) else np.ndim(value)
        except (TypeError, ValueError):  # e.g. a ragged list
            raise TypeError(f"{name} must be {self.describe()}, got {value!r}.") from None
        if ndim == 1:
            check_per_sample(value, len(value), name, low=self.low)
        elif ndim == 0:
            check_per_sample(value, 0, name, low=self.low)

    def describe(self) -> str:
        return f"a number >= {self.low!r} or one per sample"

    def invalid_values(self) -> list[Any]:
        low = 0.0 if self.low is None else self.low
        return [low - 0.1, "a", float("nan")]


def _as_constraint(constraint: Any) -> Constraint:
    if constraint is None:
        return _NoneConstraint()
    if isinstance(constraint, Constraint):
        return constraint
    raise TypeError(f"a parameter constraint must be None or a Constraint, got {constraint!r}.")


def _join(descriptions: Sequence[str]) -> str:
    if len(descriptions) == 1:
        return descriptions[0]
    return ", ".join(descriptions[:-1]) + " or " + descriptions[-1]


def check_param(value: Any, name: str, allowed: Iterable[Any]) -> None:
    """Raise unless one of the constraints ``allowed`` accepts ``value``.

    The message is that of the first constraint about ``value``'s kind (an
    interval's for a number out of range), else a :class:`TypeError` listing
    everything allowed.

    Parameters
    ----------
    value : object
        The parameter's value.
    name : str
        Its name, for the message.
    allowed : list of Constraint or None
        The declared constraints; ``None`` allows ``None``.
    """
    constraints = [_as_constraint(c) for c in allowed]
    if any(c.is_satisfied_by(value) for c in constraints):
        return
    about = [c for c in constraints if c.matches_type(value)]
    if about:
        about[0].check(value, name)
    elif len(constraints) == 1:
        constraints[0].check(value, name)
    # None last: "an int in [1, inf] or None"
    listed = sorted(constraints, key=lambda c: isinstance(c, _NoneConstraint))
    raise TypeError(
        f"{name} must be {_join([c.describe() for c in listed])}, got {value!r} "
        f"({type(value).__name__})."
    )


def declared_constraints(cls: type) -> ParameterConstraints:
    """The ``_parameter_constraints`` of ``cls`` merged with those of its bases.

    A class's own declaration of a parameter replaces a base's; parameters come
    in the order they were first declared, the base class's first.

    Parameters
    ----------
    cls : type

    Returns
    -------
    dict
        ``{name: [constraint, ...]}``.
    """
    merged: ParameterConstraints = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("_parameter_constraints", {}))
    return merged


def validate_params(obj: Any, params: Mapping[str, Any] | None = None, *, prefix: str = "") -> None:
    """Check every declared parameter of ``obj``; raise on the first bad one.

    Parameters
    ----------
    obj : object
        An instance of a class declaring ``_parameter_constraints``.
    params : mapping or None, default=None
        Values to check instead of the attributes of ``obj`` (e.g. the value a
        parameter was given where the attribute reads a resolved one); a declared
        parameter not in it is read with ``getattr``.
    prefix : str, default=""
        Put before each name in messages, e.g. ``"perturbation."`` when ``obj``
        is a parameter of something else.

    Raises
    ------
    TypeError, ValueError
        A value its constraints do not allow; the message names the parameter,
        the value and what is allowed.
    """
    params = {} if params is None else params
    for name, allowed in declared_constraints(type(obj)).items():
        value = params[name] if name in params else getattr(obj, name)
        check_param(value, prefix + name, allowed)


def declare_params(constraints: ParameterConstraints) -> Callable[[Callable], Callable]:
    """Declare what a function's parameters accept; every call checks them first.

    The function form of a class's ``_parameter_constraints``: the returned
    wrapper checks each declared parameter that the call passes (defaults are
    valid by declaration) with :func:`check_param`, then calls the function.
    The declaration is kept as the wrapper's ``_parameter_constraints``, from
    which :func:`invalid_values` builds bad values for tests. A check that
    relates several parameters, or a parameter and the data, stays an explicit
    line in the function.

    Parameters
    ----------
    constraints : dict
        ``{name: [constraint, ...]}``; every name must be a parameter of the
        function.

    Returns
    -------
    decorator : callable
    """

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(
                f"declare_params: {sorted(unknown)!r} are not parameters of "
                f"{getattr(fn, '__qualname__', fn)!r}."
            )
        declared = {
            name: [_as_constraint(c) for c in allowed] for name, allowed in constraints.items()
        }

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                arguments = signature.bind(*args, **kwargs).arguments
            except TypeError:  # a missing or unexpected argument: Python's own message
                return fn(*args, **kwargs)
            for name, allowed in declared.items():
                if name in arguments:
                    check_param(arguments[name], name, allowed)
            return fn(*args, **kwargs)

        checked._parameter_constraints = dict(constraints)  # type: ignore[attr-defined]
        return checked

    return decorate


class _BadType:
    """An object of a type no constraint allows."""

    def __repr__(self) -> str:
        return "<BadType object>"


def invalid_values(allowed: Iterable[Any]) -> list[Any]:
    """Values that none of the constraints ``allowed`` accepts (for tests).

    Parameters
    ----------
    allowed : list of Constraint or None
        A parameter's declared constraints.

    Returns
    -------
    list
        The rejected values proposed by the constraints, plus an object of a
        type nothing allows.
    """
    constraints = [_as_constraint(c) for c in allowed]
    candidates = [v for c in constraints for v in c.invalid_values()] + [_BadType()]
    unique = list({repr(v): v for v in candidates}.values())
    return [v for v in unique if not any(c.is_satisfied_by(v) for c in constraints)]
