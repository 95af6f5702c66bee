"""Temporarily switching torch modules to evaluation mode."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def eval_mode(*modules):
    """Put every module (``None`` entries are skipped) in eval mode for the block.

    Each module's previous mode is restored afterwards, also on error.

    Parameters
    ----------
    *modules : torch.nn.Module or None
        The modules.
    """
    modules = [m for m in modules if m is not None]
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, training in zip(modules, modes):
            m.train(training)
