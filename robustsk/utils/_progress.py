"""Progress bars written for where they go.

On a terminal or in a Jupyter notebook a bar is drawn live, as tqdm draws it.
Anywhere else (stderr redirected to a log file, a pipe, a CI log) it is left
out: redrawing a bar there fills the log with carriage returns and ANSI codes.
Results and tables are printed by their callers, unchanged.
"""

from __future__ import annotations

import builtins
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm.auto import tqdm


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter notebook (skorch's own test)."""
    get_ipython = getattr(builtins, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def is_interactive(stream: Any) -> bool:
    """Whether ``stream`` shows output live: a terminal, or a notebook's output.

    A closed stream, one without ``isatty`` (or ``None``, as under ``pythonw``)
    counts as not interactive.
    """
    if in_notebook():
        return True
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def progress_bar(*args: Any, verbose: Any, **kwargs: Any) -> tqdm:
    """A tqdm bar, disabled unless ``verbose`` and its stream is interactive.

    Parameters
    ----------
    *args, **kwargs
        Passed to :class:`tqdm.auto.tqdm` (not ``disable``). The stream is
        ``kwargs["file"]``, by default ``sys.stderr`` at the time of the call.
    verbose : int or bool
        Whether progress is wanted at all.

    Returns
    -------
    tqdm
        The bar; a disabled one still iterates over its iterable and accepts
        ``update`` calls, writing nothing.
    """
    from tqdm.auto import tqdm

    stream = kwargs.get("file")
    stream = sys.stderr if stream is None else stream
    return tqdm(*args, disable=not (verbose and is_interactive(stream)), **kwargs)
