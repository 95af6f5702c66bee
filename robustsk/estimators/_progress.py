"""skorch's epoch output, written for where it goes.

On a terminal or in a Jupyter notebook, the two look as in skorch: a live
per-epoch batch bar and a table whose best values are coloured. Anywhere else
(output redirected to a log file, a pipe, a CI log) the bar is left out and the
table is plain text: one line per epoch, with no carriage returns and no ANSI
colour codes.
"""

from __future__ import annotations

import re
import sys

import tqdm
from skorch.callbacks import PrintLog, ProgressBar

from ..utils import is_interactive

#: An ANSI "select graphic rendition" sequence, the colour codes PrintLog writes.
_ANSI_SGR = re.compile(r"\x1b\[[0-9;]*m")


class EpochProgressBar(ProgressBar):
    """skorch's per-epoch batch progress bar, shown only where it can be redrawn.

    Silent when ``net.verbose == 0``, and when its stream (``sys.stderr``) is not
    a terminal: redrawing a bar there would fill a log file with carriage
    returns. The per-epoch table of :class:`TerminalAwarePrintLog` still reports
    every epoch.
    """

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if net.verbose and (self._use_notebook() or is_interactive(sys.stderr)):
            super().on_epoch_begin(
                net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
            )
        else:
            self.pbar_ = tqdm.tqdm(disable=True)


class TerminalAwarePrintLog(PrintLog):
    """skorch's per-epoch table; best values are coloured only on a terminal.

    Same parameters as :class:`skorch.callbacks.PrintLog`. Colours are written
    when the table goes to ``print`` and ``sys.stdout`` is a terminal (or a
    notebook); otherwise, to a file, a pipe or a custom ``sink`` such as a
    logger, every row is plain text.
    """

    def format_row(self, row, key, color):
        value = super().format_row(row, key, color)
        if isinstance(value, str) and not self._coloured():
            return _ANSI_SGR.sub("", value)
        return value

    def _coloured(self) -> bool:
        return self.sink is print and is_interactive(sys.stdout)
