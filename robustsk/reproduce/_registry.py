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
from ._data import data_problem, dataset_title

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
        Configuration fields of the toy run: on the embedded digits (without
        ``--data``), or with ``--toy`` on the data given; the options given override
        them.
    presets : tuple of (str, str)
        ``(flag, help)`` of the sizes beside the default (``--full`` last), mutually
        exclusive with each other and with ``--toy``; each needs ``--data``.
    add_arguments : callable
        ``add_arguments(parser)`` adds the paper's own options.
    make_config : callable
        ``make_config(args, base)``: the configuration the arguments ask for
        (``args.dataset`` among them), the options given over ``base`` (the toy
        sizes for a toy run, else empty).
        It imports the reproduction and raises ValueError, naming the option, for a
        setting the parser cannot check alone.
    data_sizes : callable
        ``data_sizes(cfg)``: ``(n_train, n_test)``, the images the run reads.
    run : callable
        ``run(data, cfg, args)`` runs it on ``data`` (:data:`Data`), writing into
        ``args.out``.
    seeds : bool, default=True
        Whether it runs ``--seeds`` seeds (reported as mean and sd) or one.
    datasets : tuple of str, default=("mnist",)
        The data sets the paper used (``--dataset``, the first the default), names
        of :data:`~robustsk.reproduce._data.DATASETS`; the reproduction picks the
        paper's network and radii for each.
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
    datasets: tuple[str, ...] = ("mnist",)

    def shared_options(self) -> argparse.ArgumentParser:
        """The parent parser of the subcommand: the data, the output folder, the seeds,
        ``--quiet`` and the size presets."""
        parser = argparse.ArgumentParser(add_help=False)
        titles = ", ".join(f"{name} ({dataset_title(name)})" for name in self.datasets)
        parser.add_argument(
            "--dataset",
            choices=self.datasets,
            default=self.datasets[0],
            help=f"data set, each with the paper's network: {titles} (default: {self.datasets[0]})",
        )
        parser.add_argument(
            "--data",
            default=None,
            metavar="PATH",
            help="folder with the data set's files (default: none, a toy run on the embedded "
            "scikit-learn digits, upsampled to 28x28; MNIST only)",
        )
        parser.add_argument(
            "--mnist",
            default=None,
            metavar="PATH",
            help="folder with MNIST's four idx files: the same as --dataset mnist --data PATH "
            "(default: none)",
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
        sizes.add_argument(
            "--toy",
            action="store_true",
            help="the toy sizes (and, on colour images, the network at a fraction of its "
            "width) on the data given: a check of a data folder in a minute",
        )
        for flag, text in self.presets:
            sizes.add_argument(flag, action="store_true", help=text)
        return parser

    def run_time_text(self) -> str:
        """The run times as the subcommand's ``--help`` ends."""
        rows = "\n".join(f"  {size}: {time}" for size, time in self.run_times)
        return f"Run time on a 2-core CPU:\n{rows}"

    def data_folder(self, args: argparse.Namespace) -> str | None:
        """The folder the run reads (``--data``, or ``--mnist``), None for the embedded digits."""
        return args.data if args.data is not None else args.mnist

    def data_problem(self, args: argparse.Namespace) -> str | None:
        """Why the data options cannot work (file names only, nothing read), or None."""
        if args.mnist is not None:
            if args.data is not None:
                return "argument --mnist: not allowed with --data (--mnist PATH is --data PATH)"
            if args.dataset != "mnist":
                return (
                    f"argument --mnist: not allowed with --dataset {args.dataset}; "
                    f"write --dataset {args.dataset} --data PATH"
                )
        folder = self.data_folder(args)
        if folder is None:
            if args.dataset != "mnist":
                return (
                    f"argument --dataset: {args.dataset} needs --data PATH (a folder with "
                    f"{dataset_title(args.dataset)}'s files); only mnist has a toy run on the "
                    "embedded digits"
                )
            return None
        problem = data_problem(args.dataset, folder)
        flag = "--mnist" if args.mnist is not None else "--data"
        return problem and f"argument {flag}: {problem}"

    def is_toy(self, args: argparse.Namespace) -> bool:
        """Whether the run is at toy size: on the embedded digits, or ``--toy``."""
        return self.data_folder(args) is None or bool(getattr(args, "toy", False))

    def config(self, args: argparse.Namespace) -> Any:
        """The configuration ``args`` ask for: the toy sizes for a toy run."""
        return self.make_config(args, dict(self.toy_sizes) if self.is_toy(args) else {})


def reproductions() -> dict[str, Reproduction]:
    """Every reproduction by name, in the order ``robustsk reproduce --help`` lists them."""
    from ._aqpl_cli import REPRODUCTION as aqpl
    from ._budgets_cli import REPRODUCTION as budgets
    from ._robust_al_cli import REPRODUCTION as robust_al
    from ._rpr_cli import REPRODUCTION as rpr

    return {r.name: r for r in (robust_al, aqpl, budgets, rpr)}
