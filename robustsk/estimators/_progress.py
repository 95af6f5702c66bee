"""A skorch progress bar that respects the net's ``verbose``."""

from __future__ import annotations

import tqdm
from skorch.callbacks import ProgressBar


class EpochProgressBar(ProgressBar):
    """skorch's per-epoch batch progress bar, silent when ``net.verbose == 0``."""

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if net.verbose:
            super().on_epoch_begin(
                net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
            )
        else:
            self.pbar_ = tqdm.tqdm(disable=True)
