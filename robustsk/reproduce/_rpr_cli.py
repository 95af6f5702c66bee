"""``robustsk reproduce rpr``: the options and the run of the RPR reproduction."""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import positive_int
from ._registry import Data, Reproduction


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, what, default, full, toy in (
        ("--n-train", "training images", "5,000", "60,000", "600"),
        ("--n-test", "test images", "1,000", "10,000", "200"),
        ("--n-per-class", "robust training images per class for M_R", "125", "1,500", "20"),
        ("--max-epochs", "training epochs of M (alias: --epochs)", "5", "10", "10"),
        ("--retrain-epochs", "training epochs of M_R", "20", "10", "30"),
    ):
        parser.add_argument(
            flag,
            *(["--epochs"] if flag == "--max-epochs" else []),
            type=positive_int,
            default=None,
            help=f"{what} (default: {default}; --full: {full}; without --data: {toy})",
        )
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        help="MAX_STEPS (default: 250; without --data: 50)",
    )
    parser.add_argument(
        "--k",
        type=positive_int,
        default=None,
        help="pixel positions drawn per perturbation (default: sqrt(784) = 28, the paper's)",
    )
    parser.add_argument(
        "--value",
        choices=("uniform", "salt_and_pepper", "invert", "white", "black"),
        default="uniform",
        help="what a chosen pixel becomes",
    )
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="exactly k distinct pixels (default: k draws with replacement, at most k pixels)",
    )
    parser.add_argument(
        "--shortfall",
        choices=("keep", "fill"),
        default="keep",
        help="a class with fewer robust training images than --n-per-class: keep only "
        "those (the paper's method) or fill it up with its most robust other images",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also train M_rand, as many images per class as M_R drawn at random: what "
        "the smaller training set alone costs",
    )
    parser.add_argument(
        "--module",
        choices=("LeNet5", "MLP", "SmallCNN"),
        default="LeNet5",
        help="network of M and M_R",
    )


def _make_config(args: argparse.Namespace, base: dict[str, Any]) -> Any:
    if args.distinct and args.k is not None and args.k > 28 * 28:
        raise ValueError(
            f"argument --k: with --distinct at most the 784 pixels of an image, got {args.k}"
        )
    from .. import nets
    from ._rpr import RPRConfig

    changes: dict[str, Any] = {
        "random_state": args.seed,
        "value": args.value,
        "replace": not args.distinct,
        "shortfall": args.shortfall,
        "control": args.control,
        "module": getattr(nets, args.module),
    }
    fields = ("n_train", "n_test", "n_per_class", "max_epochs", "retrain_epochs", "max_steps", "k")
    for field in fields:
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    return RPRConfig.paper(**changes) if args.full else RPRConfig(**{**base, **changes})


def _run(data: Data, cfg: Any, args: argparse.Namespace) -> None:
    from ._rpr import run_rpr_seeds

    run_rpr_seeds(*data, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1)


REPRODUCTION = Reproduction(
    name="rpr",
    help="RPR robustness and robust-subset retraining on MNIST (RPR paper, "
    "section 2.3, Figures 3-5).",
    description="Train M (LeNet5 or --module), compute RPR (up to k random pixels "
    "altered as --value says, MAX_STEPS draws) on its training images, keep n per "
    "class of the robust ones, retrain M_R on them and report test accuracy and "
    "robust ratio of both (CSV, curves PNG, summary beside the paper's numbers), "
    "for --seeds seeds (mean and sd, paired difference M_R - M and the paper's "
    "claim checked). Default: a CPU run (5,000 training and 1,000 test images, 125 per "
    "class); --full runs the paper's protocol (60,000 / 10,000, 1,500 per class).",
    run_times=(
        ("without --data (embedded digits, toy size, 3 seeds)", "about 30 seconds"),
        ("default (3 seeds)", "about 3 minutes (56 s a seed)"),
        ("--full (3 seeds)", "about 33 minutes (11 a seed)"),
    ),
    toy_sizes=dict(
        n_train=600, n_test=200, n_per_class=20, max_epochs=10, retrain_epochs=30, max_steps=50
    ),
    presets=(("--full", "the paper's protocol"),),
    add_arguments=_add_arguments,
    make_config=_make_config,
    data_sizes=lambda cfg: (cfg.n_train, cfg.n_test),
    run=_run,
)
