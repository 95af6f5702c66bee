"""Temporarily switching torch modules to evaluation mode."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

from torch import nn

#: Module -> [number of open eval_mode blocks, mode to restore when the last one closes].
_OPEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Put every module (``None`` entries are skipped) in eval mode for the block.

    Each module's previous mode is restored afterwards, also on error. Blocks
    may nest and may run in several threads at once on a shared module (pool
    scoring under a thread-based joblib or Dask backend): the module stays in
    eval mode until the last open block on it closes, which restores the mode
    it had before the first one opened.

    Parameters
    ----------
    *modules : torch.nn.Module or None
        The modules.
    """
    active = [m for m in modules if m is not None]
    with _LOCK:
        for m in active:
            entry = _OPEN.get(m)
            if entry is None:
                _OPEN[m] = [1, m.training]
                m.eval()
            else:
                entry[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            for m in active:
                entry = _OPEN[m]
                entry[0] -= 1
                if entry[0] == 0:
                    del _OPEN[m]
                    m.train(entry[1])
