"""``robustsk reproduce aqpl``: the options and the run of the AQPL reproduction."""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import positive_float, positive_int
from ._registry import Data, Reproduction


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=None,
        help="query rounds (default: 4; --full: 10; without --data: 2)",
    )
    parser.add_argument(
        "--annotator-sigma",
        type=positive_float,
        default=None,
        help="noise level the simulated annotator is trained at (default: 1.0)",
    )
    parser.add_argument(
        "--table-sigma",
        type=positive_float,
        default=None,
        help="Gaussian level of Table 1, one of the sweep's levels (0.1, 0.2, ..., 1.2; without "
        "--data 0.3, 0.6, 0.9, 1.2; on cifar10 0.02, 0.04, ..., 0.3) (default: where Standard "
        "is closest to the paper's)",
    )

    parser.add_argument(
        "--certify",
        action="store_true",
        help="also certify GNT, AQPL-GNT and AQPL-CAT by randomized smoothing on 500 test "
        "images, at GNT's level and at each image's own level as the annotator answers it "
        "(certified.csv, certified.png)",
    )


def _make_config(args: argparse.Namespace, base: dict[str, Any]) -> Any:
    from ._aqpl import DATASET_SETTINGS, AQPLConfig

    changes: dict[str, Any] = {"random_state": args.seed}
    if args.rounds:
        changes["n_rounds"] = args.rounds
    if args.annotator_sigma is not None:
        changes["annotator_sigma"] = args.annotator_sigma
    if args.table_sigma is not None:
        changes["table_sigma"] = args.table_sigma
    if args.certify:
        changes["certify"] = True
    if args.full:
        cfg = AQPLConfig.paper(dataset=args.dataset, **changes)
    else:
        # The data set's levels win over the toy sizes (MNIST's sweep means nothing on CIFAR-10).
        toy = {k: v for k, v in base.items() if k not in DATASET_SETTINGS[args.dataset]}
        cfg = AQPLConfig.for_dataset(args.dataset, toy=bool(base), **{**toy, **changes})
    if args.table_sigma is not None and args.table_sigma not in cfg.eval_sigmas:
        raise ValueError(
            f"argument --table-sigma: must be one of the sweep's levels "
            f"{', '.join(f'{s:g}' for s in cfg.eval_sigmas)}, got {args.table_sigma:g}"
        )
    return cfg


def _run(data: Data, cfg: Any, args: argparse.Namespace) -> None:
    from ._aqpl import run_aqpl_seeds

    run_aqpl_seeds(*data, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1)


REPRODUCTION = Reproduction(
    name="aqpl",
    help="AQPL on MNIST or CIFAR-10 with the 15 corruptions (Table 1, Figures 4-5).",
    description="Standard, GNT, CAT-style, AQPL-GNT and AQPL-CAT (Table 1: clean, "
    "Gaussian and mean of the 15 corruptions) and accuracy-versus-queries "
    "curves for Random, Clean-uncertainty, Noise-uncertainty and AQPL "
    "(Figures 4-5), with a simulated annotator. Default: a CPU run (5,000 triplets, "
    "1,000 test images, 4 rounds of 100 queries); --full is closer to the paper.",
    run_times=(
        ("without --data (embedded digits, toy size, 3 seeds)", "about a minute"),
        ("default (3 seeds)", "about 25 minutes"),
        ("--full", "about 47 minutes a seed"),
    ),
    toy_sizes=dict(
        n_train=300,
        n_reference=500,
        n_test=100,
        max_epochs=6,
        epochs_per_round=2,
        n_per_side=5,
        learner_draws=4,
        n_rounds=2,
        annotator_draws=2,
        eval_sigmas=(0.3, 0.6, 0.9, 1.2),
    ),
    presets=(("--full", "closer to the paper's protocol"),),
    add_arguments=_add_arguments,
    make_config=_make_config,
    data_sizes=lambda cfg: (cfg.n_train + cfg.n_reference, cfg.n_test),
    run=_run,
    datasets=("mnist", "cifar10"),
)
