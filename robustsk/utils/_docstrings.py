"""Shared text in docstrings, written once.

A docstring names a shared block by a placeholder (``{pool}``) and :func:`fill_doc`
substitutes the text, as imbalanced-learn's ``Substitution`` does. It is the one way
robustsk composes docstrings: for a function defined with ``def`` (as a decorator) and
for one a factory makes (called on it, with the factory's template).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def _substitute(text: str, parts: dict[str, str], seen: tuple[str, ...] = ()) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parts:
            raise KeyError(f"docstring placeholder {{{name}}} has no text; given: {sorted(parts)}.")
        if name in seen:
            raise ValueError(f"docstring placeholder {{{name}}} contains itself.")
        return _substitute(parts[name], parts, (*seen, name))

    return _PLACEHOLDER.sub(replace, text)


def fill_doc(template: str | None = None, /, **parts: str) -> Callable[[T], T]:
    """Decorator that fills the ``{name}`` placeholders of a docstring.

    Parameters
    ----------
    template : str or None, default=None
        The docstring to fill; None means the decorated object's own.
    **parts : str
        Text for each placeholder. A part may hold placeholders of its own,
        filled from the same ``parts``.

    Returns
    -------
    decorator : callable
        Sets ``obj.__doc__`` to the filled text and returns ``obj``. A
        placeholder without text raises ``KeyError`` (at import, so a typo
        never reaches the rendered docs); text in braces that is not an
        identifier (``{0, 1}``) is left as it is.
    """

    def decorate(obj: T) -> T:
        doc = obj.__doc__ if template is None else template
        if doc:
            obj.__doc__ = _substitute(doc, parts)
        return obj

    return decorate
