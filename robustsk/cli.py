"""The ``robustsk`` command line: ``robustsk demo | annotate | reproduce NAME``.

Building the parser and checking the arguments import nothing heavy: a user error
(a missing data folder, an unknown strategy, a bad number) is one line on stderr
and exit code 2, before torch is imported or any data is read. Each reproduction
is a subparser built by one ``_add_*`` function, turned into its configuration by
one ``_*_config`` function and run by one ``_run_*`` function (see
``_REPRODUCTIONS``); a new option goes into the first two.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__

#: MNIST's four idx files, each plain or gzip-compressed (``.gz``), also spelled
#: ``train-images.idx3-ubyte``: what ``--mnist`` must hold (as ``load_mnist`` reads it).
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Images of the embedded digits (scikit-learn's 1,797) for a reproduction without
#: ``--mnist``: a stratified split, upsampled to MNIST's 28x28.
DIGITS_N_TEST = 300
DIGITS_N_TRAIN = 1797 - DIGITS_N_TEST

#: Toy sizes of each reproduction on the embedded digits: every part of the run, in about a
#: minute for the default 3 seeds. Fewer images, epochs, steps and noise levels; the papers'
#: threat models unchanged (so at this size the certified models of budgets and the
#: adversarially trained ones of robust-al barely learn). Options given override them.
TOY_SIZES: dict[str, dict[str, Any]] = {
    "robust-al": dict(
        n_pool=600,
        n_test=100,
        n_initial=40,
        n_per_stage=40,
        n_stages=2,
        epochs_per_stage=2,
        eps_warmup_epochs=2,
        eval_steps=10,
    ),
    "aqpl": dict(
        n_train=300,
        n_reference=500,
        n_test=100,
        epochs=6,
        epochs_per_round=2,
        n_per_side=5,
        n_noise=4,
        n_rounds=2,
        n_draws=2,
        eval_sigmas=(0.3, 0.6, 0.9, 1.2),
    ),
    "budgets": dict(n_train=400, n_test=100, epochs=3, ramp_length=2),
    "rpr": dict(
        n_train=600, n_test=200, n_per_class=20, epochs=10, retrain_epochs=30, max_steps=50
    ),
}

#: Run time of each reproduction on a 2-core CPU, by size: the measured runs of
#: doc/results.md and the capability pages it links to (digits: the toy run).
RUN_TIMES: dict[str, tuple[tuple[str, str], ...]] = {
    "robust-al": (
        ("without --mnist (embedded digits, toy size, 3 seeds)", "about 40 seconds"),
        ("default (3 seeds)", "about 12 minutes (4 a seed)"),
        ("--large (3 seeds)", "about 56 minutes (18-19 a seed)"),
        ("--full", "not measured on a CPU: the paper's protocol is for a GPU"),
    ),
    "aqpl": (
        ("without --mnist (embedded digits, toy size, 3 seeds)", "about a minute"),
        ("default (3 seeds)", "about 25 minutes"),
        ("--full", "over an hour a seed (it did not fit an hour on a 2-core CPU)"),
    ),
    "budgets": (
        ("without --mnist (embedded digits, toy size)", "about 20 seconds"),
        ("default", "about 9 minutes"),
        ("--full", "not measured on a CPU: the paper's schedule is for a GPU"),
    ),
    "rpr": (
        ("without --mnist (embedded digits, toy size, 3 seeds)", "about 30 seconds"),
        ("default (3 seeds)", "about 3 minutes (56 s a seed)"),
        ("--full (3 seeds)", "about 33 minutes (11 a seed)"),
    ),
}


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


def _number(
    convert: Callable[[str], Any], what: str, ok: Callable[[Any], bool]
) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, refuse it unless ``ok``, naming ``what``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", lambda v: v >= 1)
_nonnegative_int = _number(int, "an integer >= 0", lambda v: v >= 0)
_positive_float = _number(float, "a positive number", lambda v: math.isfinite(v) and v > 0)
_port = _number(int, "a port from 1 to 65535", lambda v: 1 <= v <= 65535)


def _add_parser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, formatter_class=_Formatter, **kwargs)
    parser.set_defaults(error=parser.error)
    return parser


def _run_times(name: str) -> str:
    rows = "\n".join(f"  {size}: {time}" for size, time in RUN_TIMES[name])
    return f"Run time on a 2-core CPU:\n{rows}"


def _add_common(parser: argparse.ArgumentParser, name: str, *, seeds: bool = True) -> None:
    """The options every reproduction has: the data, the output folder, seeds, quiet."""
    parser.add_argument(
        "--mnist",
        default=None,
        metavar="PATH",
        help="folder with MNIST's four idx files (default: none, a toy run on the embedded "
        "scikit-learn digits, upsampled to 28x28)",
    )
    parser.add_argument("--out", default=f"robustsk-{name}", help="output folder")
    if seeds:
        parser.add_argument(
            "--seeds", type=_positive_int, default=3, help="seeds, reported as mean and sd"
        )
        parser.add_argument(
            "--seed", type=_nonnegative_int, default=0, help="random seed of the first seed"
        )
    else:
        parser.add_argument("--seed", type=_nonnegative_int, default=0, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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
        + "\n".join(f"  {name}: {RUN_TIMES[name][1][1]}" for name in _REPRODUCTIONS),
    )
    which = reproduce.add_subparsers(dest="name", required=True, metavar="NAME")
    for name, (add, _, _) in _REPRODUCTIONS.items():
        add(which, name)
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
    demo.add_argument("--epochs", type=_positive_int, default=40, help="training epochs per model")
    demo.add_argument(
        "--severity", type=int, choices=range(1, 6), default=3, help="corruption severity 1-5"
    )
    demo.add_argument("--seed", type=_nonnegative_int, default=0, help="random seed")
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
    annotate.add_argument("--port", type=_port, default=8765, help="port")
    annotate.add_argument(
        "--token",
        default=None,
        help="access token: 1-256 characters from A-Z a-z 0-9 . _ ~ - (required off loopback; "
        "default: generated)",
    )


def _add_robust_al(which: Any, name: str) -> None:
    ral = _add_parser(
        which,
        name,
        help="Robust active learning on MNIST (robust-AL paper, Tables 3-5, Figure 2).",
        description="Stage loop of robust active learning: initial labelled set, +n per "
        "stage, adversarial training at each stage; accuracy and PGD robustness "
        "per stage to CSV, curves PNG and a Table 5-like summary, for --seeds seeds "
        "(mean and sd, paired differences DRE - random and random - MaxEntropy). The "
        "default is a CPU run (pool 5,000, test 500, 200 + 4 x 200 labels, PGD-10 "
        "training with a 10-epoch eps ramp); --large is the larger CPU run (DRE, random, "
        "MaxEntropy, core-set, BALD and the full-data ceiling, 3,000 labels, PGD-50 and "
        "AutoAttack); --full runs the paper's protocol (for a GPU).",
        epilog=_run_times(name),
    )
    _add_common(ral, name)
    ral.add_argument(
        "--strategies",
        default=None,
        help="comma-separated names, or 'all' for the 12 (default: random,max_entropy,dre; "
        "--large: dre,random,max_entropy,coreset,bald; --full: all)",
    )
    ral.add_argument(
        "--stages",
        type=_positive_int,
        default=None,
        help="number of stages after the initial one (default: 4; --large: 7; --full: 24; "
        "without --mnist: 2)",
    )
    size = ral.add_mutually_exclusive_group()
    size.add_argument(
        "--large",
        action="store_true",
        help="the larger CPU run (RobustALConfig.cpu_large: 5 strategies, ceiling, AutoAttack)",
    )
    size.add_argument("--full", action="store_true", help="the paper's protocol (for a GPU)")


def _add_aqpl(which: Any, name: str) -> None:
    aq = _add_parser(
        which,
        name,
        help="AQPL on MNIST with the 15 corruptions (Table 1, Figures 4-5).",
        description="Standard, GNT, CAT-style, AQPL-GNT and AQPL-CAT (Table 1: clean, "
        "Gaussian and mean of the 15 corruptions) and accuracy-versus-queries "
        "curves for Random, Clean-uncertainty, Noise-uncertainty and AQPL "
        "(Figures 4-5), with a simulated annotator. Default: a CPU run (5,000 triplets, "
        "1,000 test images, 4 rounds of 100 queries); --full is closer to the paper.",
        epilog=_run_times(name),
    )
    _add_common(aq, name)
    aq.add_argument(
        "--rounds",
        type=_positive_int,
        default=None,
        help="query rounds (default: 4; --full: 10; without --mnist: 2)",
    )
    aq.add_argument("--full", action="store_true", help="closer to the paper's protocol")
    aq.add_argument(
        "--annotator-sigma",
        type=_positive_float,
        default=None,
        help="noise level the simulated annotator is trained at (default: 1.0)",
    )
    aq.add_argument(
        "--table-sigma",
        type=_positive_float,
        default=None,
        help="Gaussian level of Table 1, one of the sweep's levels (0.1, 0.2, ..., 1.2; without "
        "--mnist 0.3, 0.6, 0.9, 1.2) (default: where Standard is closest to the paper's)",
    )


def _add_budgets(which: Any, name: str) -> None:
    bu = _add_parser(
        which,
        name,
        help="Certified training with learned contextual budgets on MNIST and "
        "Watermarked MNIST (budgets paper, Tables 1 and 3, Figures 2 and 4).",
        description="Trains SmallCNN under uniform and learned per-pixel "
        "budgets: MNIST at eps0=0.4 (clean error, verified error under uniform "
        "and under learned budgets: Table 1) and Watermarked MNIST at eps0=0.3 "
        "and 0.4 (Table 3); budget heatmaps (Figures 2 and 4). Default: a CPU "
        "run (5,000 training / 1,000 test images, 30 epochs with a 20-epoch ramp, "
        "IBP training, CROWN-IBP verification); --full uses the paper's schedule (all "
        "of MNIST, 100 epochs, 60-epoch ramp, CROWN-IBP training).",
        epilog=_run_times(name),
    )
    _add_common(bu, name, seeds=False)
    bu.add_argument("--full", action="store_true", help="the paper's schedule")
    bu.add_argument(
        "--loss-fusion",
        action="store_true",
        help="with --full: CROWN-IBP training on the one-row loss-fusion bound (about 3x "
        "cheaper epochs than margin bounds)",
    )
    bu.add_argument(
        "--generator",
        choices=("linear", "conv"),
        default="linear",
        help="budget generator head: the paper's dense layer (budgets the same for every "
        "image) or a convolution (budgets that follow the image)",
    )
    bu.add_argument(
        "--n-train",
        type=_positive_int,
        default=None,
        help="training images (default: 5,000; --full: 60,000; without --mnist: 400)",
    )
    bu.add_argument(
        "--n-test",
        type=_positive_int,
        default=None,
        help="test images (default: 1,000; --full: 10,000; without --mnist: 100)",
    )
    bu.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs, the eps ramp two thirds of them (default: 30; --full: 100; "
        "without --mnist: 3)",
    )


def _add_rpr(which: Any, name: str) -> None:
    rp = _add_parser(
        which,
        name,
        help="RPR robustness and robust-subset retraining on MNIST (RPR paper, "
        "section 2.3, Figures 3-5).",
        description="Train M (LeNet5 or --module), compute RPR (up to k random pixels "
        "altered as --value says, MAX_STEPS draws) on its training images, keep n per "
        "class of the robust ones, retrain M_R on them and report test accuracy and "
        "robust ratio of both (CSV, curves PNG, summary beside the paper's numbers), "
        "for --seeds seeds (mean and sd, paired difference M_R - M and the paper's "
        "claim checked). Default: a CPU run (5,000 training and 1,000 test images, 125 per "
        "class); --full runs the paper's protocol (60,000 / 10,000, 1,500 per class).",
        epilog=_run_times(name),
    )
    _add_common(rp, name)
    rp.add_argument("--full", action="store_true", help="the paper's protocol")
    for flag, what, default, full, toy in (
        ("--n-train", "training images", "5,000", "60,000", "600"),
        ("--n-test", "test images", "1,000", "10,000", "200"),
        ("--n-per-class", "robust training images per class for M_R", "125", "1,500", "20"),
        ("--epochs", "training epochs of M", "5", "10", "10"),
        ("--retrain-epochs", "training epochs of M_R", "20", "10", "30"),
    ):
        rp.add_argument(
            flag,
            type=_positive_int,
            default=None,
            help=f"{what} (default: {default}; --full: {full}; without --mnist: {toy})",
        )
    rp.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        help="MAX_STEPS (default: 250; without --mnist: 50)",
    )
    rp.add_argument(
        "--k",
        type=_positive_int,
        default=None,
        help="pixel positions drawn per perturbation (default: sqrt(784) = 28, the paper's)",
    )
    rp.add_argument(
        "--value",
        choices=("uniform", "salt_and_pepper", "invert", "white", "black"),
        default="uniform",
        help="what a chosen pixel becomes",
    )
    rp.add_argument(
        "--distinct",
        action="store_true",
        help="exactly k distinct pixels (default: k draws with replacement, at most k pixels)",
    )
    rp.add_argument(
        "--module",
        choices=("LeNet5", "MLP", "SmallCNN"),
        default="LeNet5",
        help="network of M and M_R",
    )


# ------------------------------------------------------------------ running
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``robustsk`` command with ``argv`` (default: ``sys.argv[1:]``); return 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
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
        from .annotate import AnnotationServer

        try:
            server = AnnotationServer(args.db, host=args.host, port=args.port, token=args.token)
        except ValueError as exc:  # a bad --token: refused before anything is served
            args.error(str(exc))
        print(f"robustsk annotate: open {server.url}")
        server.serve_forever()
    return 0


def _mnist_problem(folder: str) -> str | None:
    """Why ``folder`` is not an MNIST folder, or None. Looks at file names only."""
    path = Path(folder)
    if not path.is_dir():
        return f"{folder!r} is not a folder; it should hold MNIST's four idx files"
    missing = []
    for stem in MNIST_FILES:
        dotted = stem.replace("-idx", ".idx")
        if not any((path / n).is_file() for n in (stem, stem + ".gz", dotted, dotted + ".gz")):
            missing.append(f"{stem}[.gz]")
    if missing:
        return f"{folder!r} lacks {', '.join(missing)} (MNIST's idx files)"
    return None


def _check_data(args: argparse.Namespace) -> None:
    """The checks that need no import: the folder, the size flags, sizes the data allows."""
    if args.mnist is not None:
        problem = _mnist_problem(args.mnist)
        if problem:
            args.error(f"argument --mnist: {problem}")
        return
    for flag in ("full", "large"):
        if getattr(args, flag, False):
            args.error(
                f"--{flag} needs --mnist PATH (without it the embedded digits run at toy size)"
            )
    for flag, available in (("n_train", DIGITS_N_TRAIN), ("n_test", DIGITS_N_TEST)):
        asked = getattr(args, flag, None)
        if asked is not None and asked > available:
            args.error(
                f"argument --{flag.replace('_', '-')}: the embedded digits have {available:,} "
                f"such images, got {asked:,}; pass --mnist PATH for more"
            )


def _reproduce(args: argparse.Namespace) -> None:
    _check_data(args)
    _, config, run = _REPRODUCTIONS[args.name]
    try:
        cfg = config(args)  # imports the reproduction; refuses a bad setting
    except ValueError as exc:
        args.error(str(exc))
    run(args, cfg)


def _digits_as_mnist() -> tuple[Any, Any, Any, Any]:
    """scikit-learn's digits as MNIST-like data: ``(X_train, y_train, X_test, y_test)``.

    The 8x8 images in [0, 16] are scaled to [0, 1], upsampled (bilinear) to 20x20 and
    padded to 28x28, as MNIST centres its digits in a 20x20 box; a stratified split
    (seed 0, the same for every run) of 1,497 training and 300 test images, float32
    of shape ``(n, 1, 28, 28)``.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    from .datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True)  # (1797, 1, 8, 8) in [0, 1]
    big = F.interpolate(torch.from_numpy(X), size=(20, 20), mode="bilinear", align_corners=False)
    X28 = np.pad(big.clamp(0, 1).numpy(), ((0, 0), (0, 0), (4, 4), (4, 4)))
    X_train, X_test, y_train, y_test = train_test_split(
        X28, y, test_size=DIGITS_N_TEST, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def _load(args: argparse.Namespace, n_train: int, n_test: int) -> tuple[Any, Any, Any, Any]:
    """The data of a reproduction: MNIST from ``--mnist``, else the embedded digits."""
    if args.mnist is not None:
        from .datasets import load_mnist

        X, y = load_mnist(args.mnist, subset="train", n_samples=n_train, return_X_y=True)
        X_test, y_test = load_mnist(args.mnist, subset="test", n_samples=n_test, return_X_y=True)
        return X, y, X_test, y_test
    if n_train > DIGITS_N_TRAIN or n_test > DIGITS_N_TEST:
        args.error(
            f"the embedded digits have {DIGITS_N_TRAIN:,} training and {DIGITS_N_TEST} test "
            f"images, this run needs {n_train:,} and {n_test:,}; pass --mnist PATH"
        )
    print(
        f"robustsk reproduce {args.name}: no --mnist PATH given, so a toy run on the embedded "
        f"scikit-learn digits (8x8 upsampled to 28x28, {n_train:,} training / {n_test} test "
        "images); its numbers are not the paper's.",
        file=sys.stderr,
        flush=True,
    )
    X, y, X_test, y_test = _digits_as_mnist()
    return X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test]


def _base(args: argparse.Namespace, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` over the toy sizes when no ``--mnist`` is given."""
    return {**TOY_SIZES[args.name], **changes} if args.mnist is None else changes


def _robust_al_config(args: argparse.Namespace) -> Any:
    """The RobustALConfig that ``robustsk reproduce robust-al`` arguments ask for."""
    from .query import ROBUST_AL_STRATEGIES
    from .reproduce import RobustALConfig

    changes: dict[str, Any] = {"random_state": args.seed}
    if args.strategies:
        names = (
            list(ROBUST_AL_STRATEGIES)
            if args.strategies.strip() == "all"
            else [s.strip() for s in args.strategies.split(",") if s.strip()]
        )
        unknown = ", ".join(repr(s) for s in names if s not in ROBUST_AL_STRATEGIES)
        if unknown or not names:
            raise ValueError(
                f"argument --strategies: {'unknown ' + unknown if unknown else 'no name given'}"
                f"; choose from {', '.join(ROBUST_AL_STRATEGIES)}, or 'all'"
            )
        changes["strategies"] = tuple(names)
    if args.stages:
        changes["n_stages"] = args.stages
    if args.full:
        return RobustALConfig.paper(**changes)
    if args.large:
        return RobustALConfig.cpu_large(**changes)
    return RobustALConfig(**_base(args, changes))


def _run_robust_al(args: argparse.Namespace, cfg: Any) -> None:
    from .reproduce import run_robust_al_seeds

    command = "robustsk reproduce robust-al" + " --mnist PATH" * (args.mnist is not None)
    command += f" --out {args.out} --seeds {args.seeds}"
    command += " --large" * args.large + " --full" * args.full
    if args.strategies:
        command += f" --strategies {args.strategies}"
    if args.stages:
        command += f" --stages {args.stages}"
    command += f" --seed {args.seed}"
    data = _load(args, cfg.n_pool, cfg.n_test)
    run_robust_al_seeds(
        *data, args.out, cfg, seeds=args.seeds, command=command, verbose=0 if args.quiet else 1
    )


def _aqpl_config(args: argparse.Namespace) -> Any:
    from .reproduce import AQPLConfig

    changes: dict[str, Any] = {"random_state": args.seed}
    if args.rounds:
        changes["n_rounds"] = args.rounds
    if args.annotator_sigma is not None:
        changes["annotator_sigma"] = args.annotator_sigma
    if args.table_sigma is not None:
        changes["table_sigma"] = args.table_sigma
    cfg = AQPLConfig.paper(**changes) if args.full else AQPLConfig(**_base(args, changes))
    if args.table_sigma is not None and args.table_sigma not in cfg.eval_sigmas:
        raise ValueError(
            f"argument --table-sigma: must be one of the sweep's levels "
            f"{', '.join(f'{s:g}' for s in cfg.eval_sigmas)}, got {args.table_sigma:g}"
        )
    return cfg


def _run_aqpl(args: argparse.Namespace, cfg: Any) -> None:
    from .reproduce import run_aqpl_seeds

    data = _load(args, cfg.n_train + cfg.n_reference, cfg.n_test)
    run_aqpl_seeds(*data, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1)


def _budgets_config(args: argparse.Namespace) -> Any:
    if args.loss_fusion and not args.full:
        raise ValueError(
            "argument --loss-fusion: needs --full (the default run trains with IBP bounds, "
            "which loss fusion does not change)"
        )
    from .reproduce import BudgetsConfig

    changes: dict[str, Any] = {
        "random_state": args.seed,
        "loss_fusion": args.loss_fusion,
        "generator": args.generator,
    }
    for flag in ("n_train", "n_test", "epochs"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag)
    if "epochs" in changes and not args.full:
        changes["ramp_length"] = max(1, round(2 * changes["epochs"] / 3))
    return BudgetsConfig.paper(**changes) if args.full else BudgetsConfig(**_base(args, changes))


def _run_budgets(args: argparse.Namespace, cfg: Any) -> None:
    from .reproduce import run_budgets

    data = _load(args, cfg.n_train, cfg.n_test)
    run_budgets(*data, args.out, cfg, verbose=0 if args.quiet else 1)


def _rpr_config(args: argparse.Namespace) -> Any:
    if args.distinct and args.k is not None and args.k > 28 * 28:
        raise ValueError(
            f"argument --k: with --distinct at most the 784 pixels of an image, got {args.k}"
        )
    from . import nets
    from .reproduce import RPRConfig

    changes: dict[str, Any] = {
        "random_state": args.seed,
        "value": args.value,
        "replace": not args.distinct,
        "module": getattr(nets, args.module),
    }
    for field in ("n_train", "n_test", "n_per_class", "epochs", "retrain_epochs", "max_steps", "k"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    return RPRConfig.paper(**changes) if args.full else RPRConfig(**_base(args, changes))


def _run_rpr(args: argparse.Namespace, cfg: Any) -> None:
    from .reproduce import run_rpr_seeds

    data = _load(args, cfg.n_train, cfg.n_test)
    run_rpr_seeds(*data, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1)


#: Each reproduction: (add its subparser, its configuration from the arguments, run it).
_REPRODUCTIONS: dict[str, tuple[Callable[..., None], Callable[..., Any], Callable[..., None]]] = {
    "robust-al": (_add_robust_al, _robust_al_config, _run_robust_al),
    "aqpl": (_add_aqpl, _aqpl_config, _run_aqpl),
    "budgets": (_add_budgets, _budgets_config, _run_budgets),
    "rpr": (_add_rpr, _rpr_config, _run_rpr),
}


if __name__ == "__main__":
    sys.exit(main())
