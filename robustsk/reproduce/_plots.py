"""The one way robustsk draws a figure into a file: off pyplot, so no backend is ever set.

A :class:`matplotlib.figure.Figure` made directly (not through ``pyplot``) is drawn by
the Agg renderer when saved to PNG, needs no display and leaves the caller's pyplot
backend and figure list alone: a reproduction run from a notebook does not switch the
notebook to Agg, and nothing has to be closed. Every figure of the reproductions and of
``robustsk demo`` starts here; matplotlib is imported on the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A new off-screen figure and its axes, as ``matplotlib.pyplot.subplots`` gives them.

    Parameters
    ----------
    nrows, ncols : int, default=1
        Grid of axes.
    **kwargs
        ``figsize`` goes to the figure; the rest (``squeeze``, ``sharex``, ...) to
        :meth:`matplotlib.figure.Figure.subplots`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Save it with ``fig.savefig(path)``; it needs no closing.
    axes : matplotlib Axes or ndarray of Axes
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)
