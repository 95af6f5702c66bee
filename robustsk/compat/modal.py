"""modAL 0.4.x on scikit-learn >= 1.8: translate ``force_all_finite`` for its data checks.

modAL's ``ActiveLearner`` (``fit``, ``teach``) and ``Committee`` (``teach``) check
their data with ``sklearn.utils.check_X_y(..., force_all_finite=...)``. scikit-learn
1.6 renamed that keyword ``ensure_all_finite`` and 1.8 removed the old name, so on
scikit-learn >= 1.8 every ``teach`` raises ``TypeError: check_X_y() got an
unexpected keyword argument 'force_all_finite'`` (``query`` is not affected).
:func:`patch_modal` replaces the validation functions that modAL's modules
imported with a thin wrapper that renames the keyword and calls scikit-learn's
function; nothing else changes, and modAL's source is not touched.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from typing import Any

#: modAL's modules that call scikit-learn's data checks (0.4.2.1: only the learners).
MODAL_MODULES = ("modAL.models.learners",)
#: The scikit-learn functions modAL may call with ``force_all_finite``.
CHECKS = ("check_X_y", "check_array")

_MARK = "_robustsk_modal_shim"


def _needs_translation(func: Callable[..., Any]) -> bool:
    """Whether ``func`` takes ``ensure_all_finite`` but no longer ``force_all_finite``."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "ensure_all_finite" in params and "force_all_finite" not in params


def _translating(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with ``force_all_finite=v`` passed on as ``ensure_all_finite=v``."""

    @functools.wraps(func)
    def shim(*args: Any, **kwargs: Any) -> Any:
        if "force_all_finite" in kwargs and "ensure_all_finite" not in kwargs:
            kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
        return func(*args, **kwargs)

    setattr(shim, _MARK, True)
    return shim


def _modal_modules() -> list[Any]:
    """modAL's modules that may call the checks: the learners, and any loaded modAL module."""
    for name in MODAL_MODULES:
        importlib.import_module(name)
    return [
        module
        for name, module in list(sys.modules.items())
        if (name == "modAL" or name.startswith("modAL.")) and module is not None
    ]


def patch_modal() -> bool:
    """Make modAL 0.4.x's learners and committees work with scikit-learn >= 1.8.

    In every imported modAL module (``modAL.models.learners`` is imported
    here), a ``check_X_y`` or ``check_array`` that no longer accepts
    ``force_all_finite`` is replaced by a wrapper that passes the value on as
    ``ensure_all_finite`` (same meaning, values ``True``, ``False`` or
    ``"allow-nan"``). Idempotent; undone by :func:`unpatch_modal`.

    Does nothing (and returns False) when modAL is not installed or cannot be
    imported (modAL 0.4.x imports pandas, which ``pip install --no-deps
    modAL-python`` leaves out), or when scikit-learn still
    accepts ``force_all_finite`` (< 1.8: modAL runs as is there, with
    scikit-learn's deprecation warning on 1.6 and 1.7).

    Returns
    -------
    patched : bool
        Whether modAL's checks go through the wrapper after the call (patched
        now or by an earlier call).

    See Also
    --------
    unpatch_modal : restore modAL's own references.

    Notes
    -----
    Limits: only the name ``force_all_finite`` is translated, and only in
    modAL modules imported when this runs (modAL 0.4.2.1 calls the checks in
    ``modAL.models.learners`` alone, which is always covered); a modAL module
    that imports scikit-learn's checks later keeps them unwrapped (call
    :func:`patch_modal` again after importing it). Other incompatibilities of
    modAL are not addressed: install it with ``pip install --no-deps
    modAL-python`` (its metadata pins an old skorch); its ``query`` calls a
    strategy a second time, silently, when the first call raises or does not
    return two values (robustsk's strategies return ``(indices, scores)``, so
    a working one runs once; ``query(..., return_metrics=True)`` gives the
    scores back).

    Examples
    --------
    >>> from robustsk.compat import patch_modal
    >>> patched = patch_modal()  # before modAL's ActiveLearner.teach / Committee.teach
    >>> patch_modal() == patched  # idempotent
    True
    """
    if importlib.util.find_spec("modAL") is None:
        return False
    try:
        modules = _modal_modules()
    except ImportError:  # modAL without one of its own imports (pandas): nothing to patch
        return False
    patched = False
    for module in modules:
        for name in CHECKS:
            func = getattr(module, name, None)
            if func is None or not callable(func):
                continue
            if getattr(func, _MARK, False):
                patched = True
            elif _needs_translation(func):
                setattr(module, name, _translating(func))
                patched = True
    return patched


def unpatch_modal() -> bool:
    """Undo :func:`patch_modal`: modAL's modules get scikit-learn's own checks back.

    Returns
    -------
    unpatched : bool
        Whether any wrapper was removed.
    """
    removed = False
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "modAL" or name.startswith("modAL.")):
            continue
        for check in CHECKS:
            func = getattr(module, check, None)
            if getattr(func, _MARK, False):
                setattr(module, check, func.__wrapped__)  # type: ignore[union-attr]
                removed = True
    return removed
