"""The ``robustsk`` command line: ``robustsk demo | annotate | reproduce NAME``.

Building the parser and checking the arguments import nothing heavy: a user error
(a missing data folder, an unknown strategy, a bad number) is one line on stderr
and exit code 2, before torch is imported or any data is read. Each reproduction is
one ``Reproduction`` (its options, configuration, data sizes and run, in
``robustsk/reproduce/_<paper>_cli.py``); ``REPRODUCTIONS`` lists them, and every
subcommand of ``reproduce`` is built, checked and run the same way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .reproduce import (
    DIGITS_N_TEST,
    DIGITS_N_TRAIN,
    Reproduction,
    nonnegative_int,
    port,
    positive_int,
    reproductions,
)

#: Every ``robustsk reproduce NAME``, in the order of ``robustsk reproduce --help``.
REPRODUCTIONS: dict[str, Reproduction] = reproductions()


# ------------------------------------------------------------------ parser plumbing
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``PROG: error: MESSAGE``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help; descriptions and epilogs wrapped line by line."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.nargs == 0 or "default:" in text:  # a flag, or a default said in words
            return text
        return super()._get_help_string(action) or text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            body = line.lstrip(" ")
            more = indent + " " * (len(line) - len(body))
            hanging = more + "  " if body != line else more  # an indented item hangs
            lines.append(
                textwrap.fill(body, width, initial_indent=more, subsequent_indent=hanging)
                if body
                else ""
            )
        return "\n".join(lines)


def _add_parser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, formatter_class=_Formatter, **kwargs)
    parser.set_defaults(error=parser.error)
    return parser


# ------------------------------------------------------------------ the parser
def build_parser() -> argparse.ArgumentParser:
    """The ``robustsk`` argument parser (imports nothing heavy)."""
    parser = _Parser(
        prog="robustsk",
        description="Robust classifiers and robustness-aware active learning.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"robustsk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_annotate(sub)
    reproduce = _add_parser(
        sub,
        "reproduce",
        help="Reproduce a paper's experiment (MNIST with --mnist PATH, else a toy run on the "
        "embedded digits).",
        description="Reproduce a paper's experiment. With --mnist PATH each one runs on MNIST, "
        "CPU-sized by default; without it, on the embedded scikit-learn digits at toy size "
        "(about a minute), to see the whole run work.\n"
        "Run time of the default size on a 2-core CPU (NAME --help gives every size):\n"
        + "\n".join(f"  {name}: {r.run_times[1][1]}" for name, r in REPRODUCTIONS.items()),
    )
    which = reproduce.add_subparsers(dest="name", required=True, metavar="NAME")
    for name, reproduction in REPRODUCTIONS.items():
        paper = _add_parser(
            which,
            name,
            parents=[reproduction.shared_options()],
            help=reproduction.help,
            description=reproduction.description,
            epilog=reproduction.run_time_text(),
        )
        reproduction.add_arguments(paper)
    return parser


def _add_demo(sub: Any) -> None:
    demo = _add_parser(
        sub,
        "demo",
        help="Standard vs Gaussian-noise vs adaptive-noise training on digits.",
        description="Train Standard, GNT and adaptive-noise models on the embedded digits and "
        "report clean, Gaussian-noise and 15-corruption accuracy (AQPL Table 1 "
        "columns) as a table, CSV and PNG.",
        epilog="Run time on a 2-core CPU: about 10 s, about 30 s for a first run on a fresh "
        "machine.",
    )
    demo.add_argument("--out", default="robustsk-demo", help="output folder")
    demo.add_argument("--epochs", type=positive_int, default=40, help="training epochs per model")
    demo.add_argument(
        "--severity", type=int, choices=range(1, 6), default=3, help="corruption severity 1-5"
    )
    demo.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_annotate(sub: Any) -> None:
    annotate = _add_parser(
        sub,
        "annotate",
        help="Serve the annotation app (perturbation-level queries).",
        description="Serve the page where a person picks, for each queried example, the "
        "noise level at the threshold of recognisability. Queries come from a "
        "learner's HumanOracle; answers are stored in SQLite before they are "
        "acknowledged.",
    )
    annotate.add_argument("--db", default="annotations.sqlite", help="SQLite file")
    annotate.add_argument("--host", default="127.0.0.1", help="address")
    annotate.add_argument("--port", type=port, default=8765, help="port")
    annotate.add_argument(
        "--token",
        default=None,
        help="access token: 1-256 characters from A-Z a-z 0-9 . _ ~ - (required off loopback; "
        "default: generated)",
    )
    annotate.add_argument(
        "--answers-per-query",
        type=positive_int,
        default=1,
        help="annotators whose answers settle a query (a team; default: 1)",
    )
    annotate.add_argument(
        "--aggregate",
        choices=("median", "min"),
        default="median",
        help="how a settled query's answers become its level: the lower median or the "
        "lowest (default: median)",
    )


# ------------------------------------------------------------------ running
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``robustsk`` command with ``argv`` (default: ``sys.argv[1:]``); return 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        _check_writable(args, "--out", args.out)
        from ._demo import run_demo

        run_demo(
            args.out,
            max_epochs=args.epochs,
            severity=args.severity,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
        )
    elif args.command == "reproduce":
        _reproduce(args)
    elif args.command == "annotate":
        folder = Path(args.db).expanduser().resolve().parent
        if not folder.is_dir():
            args.error(f"argument --db: the folder of {args.db!r} ({folder}) does not exist")
        import sqlite3

        from .annotate import AnnotationServer

        try:
            server = AnnotationServer(
                args.db,
                host=args.host,
                port=args.port,
                token=args.token,
                answers_per_query=args.answers_per_query,
                aggregate=args.aggregate,
            )
        except ValueError as exc:  # a bad --token: refused before anything is served
            args.error(str(exc))
        except (OSError, sqlite3.Error) as exc:  # a file that is not a database, no access
            args.error(f"argument --db: cannot open {args.db!r} as the annotation store ({exc})")
        print(f"robustsk annotate: open {server.url}")
        server.serve_forever()
    return 0


def _check_writable(args: argparse.Namespace, flag: str, folder: str) -> None:
    """Create ``folder`` and write a file in it, before any work: a folder that cannot be
    written is one line naming it, not a traceback after the run."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        args.error(f"argument {flag}: cannot write to {folder!r} ({exc.strerror or exc})")


def _check_data(args: argparse.Namespace, reproduction: Reproduction) -> None:
    """The checks that need no import: the folder, the size flags, sizes the data allows."""
    problem = reproduction.data_problem(args)
    if problem:
        args.error(problem)
    if reproduction.data_folder(args) is not None:
        return
    for flag, _ in reproduction.presets:
        if getattr(args, flag[2:].replace("-", "_")):
            args.error(f"{flag} needs --data PATH (without it the embedded digits run at toy size)")
    for flag, available in (("n_train", DIGITS_N_TRAIN), ("n_test", DIGITS_N_TEST)):
        asked = getattr(args, flag, None)
        if asked is not None and asked > available:
            args.error(
                f"argument --{flag.replace('_', '-')}: the embedded digits have {available:,} "
                f"such images, got {asked:,}; pass --data PATH for more"
            )


def _reproduce(args: argparse.Namespace) -> None:
    reproduction = REPRODUCTIONS[args.name]
    _check_data(args, reproduction)
    try:
        cfg = reproduction.config(args)  # imports the reproduction; refuses a bad setting
    except ValueError as exc:
        args.error(str(exc))
    _check_writable(args, "--out", args.out)
    reproduction.run(_load(args, reproduction, *reproduction.data_sizes(cfg)), cfg, args)


def _load(
    args: argparse.Namespace, reproduction: Reproduction, n_train: int, n_test: int
) -> tuple[Any, Any, Any, Any]:
    """The data of a reproduction: the data set in ``--data``, else the embedded digits."""
    from .reproduce import digits_as_mnist, load_split

    folder = reproduction.data_folder(args)
    if folder is not None:
        try:
            return load_split(args.dataset, folder, n_train, n_test, random_state=args.seed)
        except (ValueError, OSError) as exc:  # a damaged or unreadable file: named, one line
            args.error(f"cannot read the {args.dataset} data in {str(folder)!r}: {exc}")
    if n_train > DIGITS_N_TRAIN or n_test > DIGITS_N_TEST:
        args.error(
            f"the embedded digits have {DIGITS_N_TRAIN:,} training and {DIGITS_N_TEST} test "
            f"images, this run needs {n_train:,} and {n_test:,}; pass --data PATH"
        )
    print(
        f"robustsk reproduce {args.name}: no --data PATH given, so a toy run on the embedded "
        f"scikit-learn digits (8x8 upsampled to 28x28, {n_train:,} training / {n_test} test "
        "images); its numbers are not the paper's.",
        file=sys.stderr,
        flush=True,
    )
    X, y, X_test, y_test = digits_as_mnist()
    return X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test]


if __name__ == "__main__":
    sys.exit(main())
