"""The contract of a reproduction: what ``robustsk reproduce NAME`` needs of each paper.

Each ``_<paper>_cli.py`` module exports one :class:`Reproduction`, ``REPRODUCTION``;
the command line builds one subcommand per entry of :func:`reproductions`, each with
the options every reproduction shares (:meth:`Reproduction.shared_options`) as its
parent parser and the paper's own options after them. Nothing here or in those
modules imports torch: ``make_config`` and ``run`` import the reproduction when called.
A new reproduction is a ``_<paper>_cli.py`` module and one line in :func:`reproductions`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._argtypes import nonnegative_int, positive_int

#: ``(X_train, y_train, X_test, y_test)``: the images a reproduction runs on.
Data = tuple[Any, Any, Any, Any]


@dataclass(frozen=True)
class Reproduction:
    """One paper's experiment as a subcommand of ``robustsk reproduce``.

    Parameters
    ----------
    name : str
        The subcommand (``robustsk reproduce NAME``) and the default output folder's
        suffix (``robustsk-NAME``).
    help : str
        Its line in ``robustsk reproduce --help``.
    description : str
        Its ``--help`` text.
    run_times : tuple of (str, str)
        ``(size, time)``: the run time of each size on a 2-core CPU, without
        ``--mnist`` first, then the default, then each of ``presets``.
    toy_sizes : mapping
        Configuration fields of the toy run on the embedded digits (without
        ``--mnist``); the options given override them.
    presets : tuple of (str, str)
        ``(flag, help)`` of the sizes beside the default (``--full`` last), mutually
        exclusive; each needs ``--mnist``.
    add_arguments : callable
        ``add_arguments(parser)`` adds the paper's own options.
    make_config : callable
        ``make_config(args, base)``: the configuration the arguments ask for, the
        options given over ``base`` (the toy sizes without ``--mnist``, else empty).
        It imports the reproduction and raises ValueError, naming the option, for a
        setting the parser cannot check alone.
    data_sizes : callable
        ``data_sizes(cfg)``: ``(n_train, n_test)``, the images the run reads.
    run : callable
        ``run(data, cfg, args)`` runs it on ``data`` (:data:`Data`), writing into
        ``args.out``.
    seeds : bool, default=True
        Whether it runs ``--seeds`` seeds (reported as mean and sd) or one.
    """

    name: str
    help: str
    description: str
    run_times: tuple[tuple[str, str], ...]
    toy_sizes: Mapping[str, Any]
    presets: tuple[tuple[str, str], ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    make_config: Callable[[argparse.Namespace, dict[str, Any]], Any]
    data_sizes: Callable[[Any], tuple[int, int]]
    run: Callable[[Data, Any, argparse.Namespace], None]
    seeds: bool = True

    def shared_options(self) -> argparse.ArgumentParser:
        """The parent parser of the subcommand: the data, the output folder, the seeds,
        ``--quiet`` and the size presets."""
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument(
            "--mnist",
            default=None,
            metavar="PATH",
            help="folder with MNIST's four idx files (default: none, a toy run on the embedded "
            "scikit-learn digits, upsampled to 28x28)",
        )
        parser.add_argument("--out", default=f"robustsk-{self.name}", help="output folder")
        if self.seeds:
            parser.add_argument(
                "--seeds", type=positive_int, default=3, help="seeds, reported as mean and sd"
            )
            parser.add_argument(
                "--seed", type=nonnegative_int, default=0, help="random seed of the first seed"
            )
        else:
            parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        sizes = parser.add_mutually_exclusive_group()
        for flag, text in self.presets:
            sizes.add_argument(flag, action="store_true", help=text)
        return parser

    def run_time_text(self) -> str:
        """The run times as the subcommand's ``--help`` ends."""
        rows = "\n".join(f"  {size}: {time}" for size, time in self.run_times)
        return f"Run time on a 2-core CPU:\n{rows}"

    def config(self, args: argparse.Namespace) -> Any:
        """The configuration ``args`` ask for: the toy sizes without ``--mnist``."""
        return self.make_config(args, dict(self.toy_sizes) if args.mnist is None else {})


def reproductions() -> dict[str, Reproduction]:
    """Every reproduction by name, in the order ``robustsk reproduce --help`` lists them."""
    from ._aqpl_cli import REPRODUCTION as aqpl
    from ._budgets_cli import REPRODUCTION as budgets
    from ._robust_al_cli import REPRODUCTION as robust_al
    from ._rpr_cli import REPRODUCTION as rpr

    return {r.name: r for r in (robust_al, aqpl, budgets, rpr)}
