"""``robustsk reproduce budgets``: the options and the run of the budgets reproduction."""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import positive_float, positive_int
from ._registry import Data, Reproduction


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loss-fusion",
        action="store_true",
        help="with --full: CROWN-IBP training on the one-row loss-fusion bound (about 3x "
        "cheaper epochs than margin bounds)",
    )
    parser.add_argument(
        "--generator-head",
        "--generator",
        dest="generator_head",
        choices=("linear", "conv"),
        default="linear",
        help="budget generator head: the paper's dense layer (budgets the same for every "
        "image) or a convolution (budgets that follow the image)",
    )
    parser.add_argument(
        "--eval-bound",
        choices=("best", "crown-ibp", "ibp", "crown"),
        default=None,
        help="bound of the verified errors (default: best, the tighter of IBP and CROWN-IBP "
        "for each margin; the paper's code verifies with IBP)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the models an earlier run with the same settings saved in OUT/models "
        "(checked; only train the missing ones): a run cut short goes on, a finished one "
        "is evaluated again. The models are pickles, which can run code when loaded: resume "
        "only from a folder you wrote",
    )
    parser.add_argument(
        "--tables",
        type=int,
        nargs="+",
        choices=(1, 2, 3, 4),
        default=None,
        help="which tables to run: on mnist 1 (two models) and/or 3 (Watermarked MNIST, four "
        "models); on cifar10 2 (four models) and/or 4 (Doubled CIFAR-10, two models); "
        "doubled-cifar runs 4 (default: the data set's tables); at --full each MNIST model "
        "is most of an hour on a 2-core CPU",
    )
    parser.add_argument(
        "--watermark-eps0",
        type=positive_float,
        nargs="+",
        default=None,
        metavar="EPS0",
        help="Table 3's eps0 levels, each a uniform and a learned model (default: 0.3 0.4, "
        "the paper's; at --full --loss-fusion about 85 minutes per level on a 2-core CPU)",
    )
    parser.add_argument(
        "--n-train",
        type=positive_int,
        default=None,
        help="training images (default: 5,000; --full: 60,000; without --data: 400)",
    )
    parser.add_argument(
        "--n-test",
        type=positive_int,
        default=None,
        help="test images (default: 1,000; --full: 10,000; without --data: 100)",
    )
    parser.add_argument(
        "--max-epochs",
        "--epochs",
        dest="max_epochs",
        type=positive_int,
        default=None,
        help="training epochs, the eps ramp two thirds of them (default: 30; --full: 100; "
        "without --data: 3)",
    )


def _make_config(args: argparse.Namespace, base: dict[str, Any]) -> Any:
    if args.loss_fusion and not args.full:
        raise ValueError(
            "argument --loss-fusion: needs --full (the default run trains with IBP bounds, "
            "which loss fusion does not change)"
        )
    from ._budgets import BudgetsConfig

    changes: dict[str, Any] = {
        "random_state": args.seed,
        "loss_fusion": args.loss_fusion,
        "generator_head": args.generator_head,
    }
    if args.tables is not None:
        changes["tables"] = tuple(dict.fromkeys(args.tables))
    if args.watermark_eps0 is not None:
        changes["watermark_eps0"] = tuple(dict.fromkeys(args.watermark_eps0))
    for flag in ("n_train", "n_test", "max_epochs", "eval_bound"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag)
    if "max_epochs" in changes and not args.full:
        changes["ramp_length"] = max(1, round(2 * changes["max_epochs"] / 3))
    try:
        if args.full:
            cfg = BudgetsConfig.paper(dataset=args.dataset, **changes)
        else:
            cfg = BudgetsConfig.for_dataset(args.dataset, toy=bool(base), **{**base, **changes})
    except ValueError as exc:
        if "tables=" in str(exc):
            raise ValueError(f"argument --tables: {exc}") from None
        raise
    if args.watermark_eps0 is not None and 3 not in cfg.tables:
        raise ValueError(
            f"argument --watermark-eps0: sets Table 3's levels, but this run's tables are "
            f"{cfg.tables} (add --tables 3)"
        )
    return cfg


def _run(data: Data, cfg: Any, args: argparse.Namespace) -> None:
    from ._budgets import run_budgets

    run_budgets(*data, args.out, cfg, verbose=0 if args.quiet else 1, resume=args.resume)


REPRODUCTION = Reproduction(
    name="budgets",
    help="Certified training with learned contextual budgets on MNIST, Watermarked MNIST, "
    "CIFAR-10 and Doubled CIFAR-10 (budgets paper, Tables 1-4, Figures 2-5).",
    description="Trains SmallCNN under uniform and learned per-pixel "
    "budgets: MNIST at eps0=0.4 (clean error, verified error under uniform "
    "and under learned budgets: Table 1) and Watermarked MNIST at eps0=0.3 "
    "and 0.4 (Table 3); budget heatmaps (Figures 2 and 4). Default: a CPU "
    "run (5,000 training / 1,000 test images, 30 epochs with a 20-epoch ramp, "
    "IBP training, verified by the tighter of IBP and CROWN-IBP); --full uses the "
    "paper's schedule (all of MNIST, 100 epochs, 60-epoch ramp, CROWN-IBP training; "
    "--resume goes on with a run cut short). --dataset cifar10 "
    "trains CNN-7 on CIFAR-10 at eps0=8/255 and 32/255 (Table 2) and on Doubled "
    "CIFAR-10 built from it at eps0=16/255 (Table 4); --full there is the paper's "
    "320-epoch schedule, for a GPU.",
    run_times=(
        ("without --data (embedded digits, toy size)", "about 20 seconds"),
        ("default", "about 9 minutes"),
        ("--full --loss-fusion --tables 1", "about 95 minutes (30 + 63 for the two models)"),
    ),
    toy_sizes=dict(n_train=400, n_test=100, max_epochs=3, ramp_length=2),
    presets=(("--full", "the paper's schedule"),),
    add_arguments=_add_arguments,
    make_config=_make_config,
    data_sizes=lambda cfg: (cfg.n_train, cfg.n_test),
    run=_run,
    seeds=False,
    datasets=("mnist", "cifar10", "doubled-cifar"),
)
