"""``robustsk reproduce robust-al``: the options and the run of the robust-AL reproduction."""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import positive_int
from ._registry import Data, Reproduction


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategies",
        default=None,
        help="comma-separated names, or 'all' for the 12 (default: random,max_entropy,dre; "
        "--large: dre,random,max_entropy,coreset,bald; --full: all)",
    )
    parser.add_argument(
        "--stages",
        type=positive_int,
        default=None,
        help="number of stages after the initial one (default: 4; --large: 7; --full: 24; "
        "without --data: 2)",
    )
    parser.add_argument(
        "--train-loss",
        choices=("ce", "trades"),
        default="ce",
        help="adversarial training objective: Madry's cross-entropy (the paper's) or TRADES",
    )


def _make_config(args: argparse.Namespace, base: dict[str, Any]) -> Any:
    """The RobustALConfig that ``robustsk reproduce robust-al`` arguments ask for."""
    from ..query import ROBUST_AL_STRATEGIES
    from ._robust_al import RobustALConfig

    changes: dict[str, Any] = {"random_state": args.seed, "train_loss": args.train_loss}
    toy = bool(base)
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
        return RobustALConfig.paper(dataset=args.dataset, **changes)
    if args.large:
        return RobustALConfig.cpu_large(dataset=args.dataset, **changes)
    return RobustALConfig.for_dataset(args.dataset, toy=toy, **{**base, **changes})


def _command(args: argparse.Namespace) -> str:
    """The command line of the run, as its summary states it."""
    command = "robustsk reproduce robust-al"
    if args.dataset != "mnist":
        command += f" --dataset {args.dataset}"
    if args.data is not None or args.mnist is not None:
        command += " --data PATH"
    command += " --toy" * bool(getattr(args, "toy", False))
    command += f" --out {args.out} --seeds {args.seeds}"
    command += " --large" * args.large + " --full" * args.full
    command += f" --train-loss {args.train_loss}" * (args.train_loss != "ce")
    if args.strategies:
        command += f" --strategies {args.strategies}"
    if args.stages:
        command += f" --stages {args.stages}"
    return command + f" --seed {args.seed}"


def _run(data: Data, cfg: Any, args: argparse.Namespace) -> None:
    from ._robust_al import run_robust_al_seeds

    run_robust_al_seeds(
        *data,
        args.out,
        cfg,
        seeds=args.seeds,
        command=_command(args),
        verbose=0 if args.quiet else 1,
    )


REPRODUCTION = Reproduction(
    name="robust-al",
    help="Robust active learning on MNIST, Fashion-MNIST, SVHN or CIFAR-10 (robust-AL paper, "
    "Tables 3-5, Figure 2).",
    description="Stage loop of robust active learning: initial labelled set, +n per "
    "stage, adversarial training at each stage; accuracy and PGD robustness "
    "per stage to CSV, curves PNG and a Table 5-like summary, for --seeds seeds "
    "(mean and sd, paired differences DRE - random and random - MaxEntropy). The "
    "default is a CPU run (pool 5,000, test 500, 200 + 4 x 200 labels, PGD-10 "
    "training with a 10-epoch eps ramp); --large is the larger CPU run (DRE, random, "
    "MaxEntropy, core-set, BALD and the full-data ceiling, 3,000 labels, PGD-50 and "
    "AutoAttack); --full runs the paper's protocol (for a GPU).",
    run_times=(
        ("without --data (embedded digits, toy size, 3 seeds)", "about 40 seconds"),
        ("default (3 seeds)", "about 12 minutes (4 a seed)"),
        ("--large (3 seeds)", "about 56 minutes (18-19 a seed)"),
        ("--full", "not measured on a CPU: the paper's protocol is for a GPU"),
    ),
    toy_sizes=dict(
        n_pool=600,
        n_test=100,
        n_initial=40,
        n_per_stage=40,
        n_stages=2,
        epochs_per_stage=2,
        eps_warmup_epochs=2,
        eval_steps=10,
    ),
    presets=(
        (
            "--large",
            "the larger CPU run (RobustALConfig.cpu_large: 5 strategies, ceiling, AutoAttack)",
        ),
        ("--full", "the paper's protocol (for a GPU)"),
    ),
    add_arguments=_add_arguments,
    make_config=_make_config,
    data_sizes=lambda cfg: (cfg.n_pool, cfg.n_test),
    run=_run,
    datasets=("mnist", "fashion-mnist", "svhn", "cifar10"),
)
