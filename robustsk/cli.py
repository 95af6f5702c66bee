"""The ``robustsk`` command line."""

from __future__ import annotations

from typing import Any

import argparse
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robustsk", description="Robust classifiers and robustness-aware active learning."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="Standard vs Gaussian-noise vs adaptive-noise training on digits.",
        description="Train Standard, GNT and adaptive-noise models on the embedded digits and "
        "report clean, Gaussian-noise and 15-corruption accuracy (AQPL Table 1 "
        "columns) as a table, CSV and PNG.",
    )
    demo.add_argument("--out", default="robustsk-demo", help="output folder (default: %(default)s)")
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=40,
        help="training epochs per model (default: %(default)s)",
    )
    demo.add_argument(
        "--severity",
        type=int,
        choices=range(1, 6),
        default=3,
        help="corruption severity 1-5 (default: %(default)s)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    annotate = sub.add_parser(
        "annotate",
        help="Serve the annotation app (perturbation-level queries).",
        description="Serve the page where a person picks, for each queried example, the "
        "noise level at the threshold of recognisability. Queries come from a "
        "learner's HumanOracle; answers are stored in SQLite before they are "
        "acknowledged.",
    )
    annotate.add_argument("--db", default="annotations.sqlite", help="SQLite file")
    annotate.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    annotate.add_argument("--port", type=int, default=8765, help="port (default: %(default)s)")
    annotate.add_argument(
        "--token",
        default=None,
        help="access token: 1-256 characters from A-Z a-z 0-9 . _ ~ - (required off loopback; "
        "generated if omitted)",
    )

    reproduce = sub.add_parser("reproduce", help="Reproduce a paper's experiment.")
    which = reproduce.add_subparsers(dest="name", required=True)
    ral = which.add_parser(
        "robust-al",
        help="Robust active learning on MNIST (robust-AL paper, Tables 3-5, Figure 2).",
        description="Stage loop of robust active learning: initial labelled set, +n per "
        "stage, adversarial training at each stage; accuracy and PGD robustness "
        "per stage to CSV, curves PNG and a Table 5-like summary, for --seeds seeds "
        "(mean and sd, paired differences DRE - random and random - MaxEntropy). The "
        "default is a CPU run of a few minutes a seed (pool 5,000, test 500, 200 + 4 x "
        "200 labels, PGD-10 training with a 10-epoch eps ramp); --large is the larger "
        "CPU run (DRE, random, MaxEntropy, core-set, BALD and the full-data ceiling, "
        "3,000 labels, PGD-50 and AutoAttack; about 28 minutes a seed on 2 cores); "
        "--full runs the paper's protocol (for a GPU).",
    )
    ral.add_argument("--mnist", required=True, help="folder with MNIST's idx files")
    ral.add_argument("--out", default="robustsk-robust-al", help="output folder")
    ral.add_argument(
        "--strategies",
        default=None,
        help="comma-separated names (default: random,max_entropy,dre; 'all' for the 12)",
    )
    ral.add_argument("--stages", type=_positive_int, default=None, help="number of stages")
    ral_size = ral.add_mutually_exclusive_group()
    ral_size.add_argument(
        "--large",
        action="store_true",
        help="the larger CPU run (RobustALConfig.cpu_large: 5 strategies, ceiling, AutoAttack)",
    )
    ral_size.add_argument("--full", action="store_true", help="the paper's protocol")
    ral.add_argument(
        "--seeds", type=_positive_int, default=3, help="seeds, mean and sd (default: %(default)s)"
    )
    ral.add_argument("--seed", type=int, default=0, help="first random seed (default: %(default)s)")
    ral.add_argument("--quiet", action="store_true", help="no progress bars")

    aq = which.add_parser(
        "aqpl",
        help="AQPL on MNIST with the 15 corruptions (Table 1, Figures 4-5).",
        description="Standard, GNT, CAT-style, AQPL-GNT and AQPL-CAT (Table 1: clean, "
        "Gaussian and mean of the 15 corruptions) and accuracy-versus-queries "
        "curves for Random, Clean-uncertainty, Noise-uncertainty and AQPL "
        "(Figures 4-5), with a simulated annotator. Default: a CPU run of minutes "
        "(5,000 triplets, 1,000 test images, 4 rounds of 100 queries); --full "
        "is closer to the paper.",
    )
    aq.add_argument("--mnist", required=True, help="folder with MNIST's idx files")
    aq.add_argument("--out", default="robustsk-aqpl", help="output folder")
    aq.add_argument("--rounds", type=_positive_int, default=None, help="query rounds")
    aq.add_argument("--full", action="store_true", help="closer to the paper's protocol")
    aq.add_argument(
        "--seeds", type=_positive_int, default=3, help="seeds, mean and sd (default: %(default)s)"
    )
    aq.add_argument(
        "--annotator-sigma",
        type=float,
        default=None,
        help="noise level the simulated annotator is trained at (default: 1.0)",
    )
    aq.add_argument(
        "--table-sigma",
        type=float,
        default=None,
        help="Gaussian level of Table 1 (default: where Standard is closest to the paper's)",
    )
    aq.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    aq.add_argument("--quiet", action="store_true", help="no progress bars")

    bu = which.add_parser(
        "budgets",
        help="Certified training with learned contextual budgets on MNIST and "
        "Watermarked MNIST (budgets paper, Tables 1 and 3, Figures 2 and 4).",
        description="Trains SmallCNN under uniform and learned per-pixel "
        "budgets: MNIST at eps0=0.4 (clean error, verified error under uniform "
        "and under learned budgets: Table 1) and Watermarked MNIST at eps0=0.3 "
        "and 0.4 (Table 3); budget heatmaps (Figures 2 and 4). Default: a CPU "
        "run (5,000 training / 1,000 test images, 30 epochs with a 20-epoch ramp, "
        "IBP training, CROWN-IBP verification); --full uses the paper's schedule (all "
        "of MNIST, 100 epochs, 60-epoch ramp, CROWN-IBP training).",
    )
    bu.add_argument("--mnist", required=True, help="folder with MNIST's idx files")
    bu.add_argument("--out", default="robustsk-budgets", help="output folder")
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
        "image) or a convolution (budgets that follow the image); default: %(default)s",
    )
    bu.add_argument("--n-train", type=_positive_int, default=None, help="training images")
    bu.add_argument("--n-test", type=_positive_int, default=None, help="test images")
    bu.add_argument("--epochs", type=_positive_int, default=None, help="training epochs")
    bu.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    bu.add_argument("--quiet", action="store_true", help="no progress bars")

    rp = which.add_parser(
        "rpr",
        help="RPR robustness and robust-subset retraining on MNIST (RPR paper, "
        "section 2.3, Figures 3-5).",
        description="Train M (LeNet5 or --module), compute RPR (up to k random pixels "
        "altered as --value says, MAX_STEPS draws) on its training images, keep n per "
        "class of the robust ones, retrain M_R on them and report test accuracy and "
        "robust ratio of both (CSV, curves PNG, summary beside the paper's numbers), "
        "for --seeds seeds (mean and sd, paired difference M_R - M and the paper's "
        "claim checked). Default: a CPU run of about a minute a seed (5,000 training "
        "and 1,000 test images, 125 per class); --full runs the paper's protocol "
        "(60,000 / 10,000, 1,500 per class).",
    )
    rp.add_argument("--mnist", required=True, help="folder with MNIST's idx files")
    rp.add_argument("--out", default="robustsk-rpr", help="output folder")
    rp.add_argument("--full", action="store_true", help="the paper's protocol")
    rp.add_argument("--n-train", type=_positive_int, default=None, help="training images")
    rp.add_argument("--n-test", type=_positive_int, default=None, help="test images")
    rp.add_argument(
        "--n-per-class",
        type=_positive_int,
        default=None,
        help="robust training images per class for M_R",
    )
    rp.add_argument("--epochs", type=_positive_int, default=None, help="training epochs of M")
    rp.add_argument(
        "--retrain-epochs", type=_positive_int, default=None, help="training epochs of M_R"
    )
    rp.add_argument(
        "--max-steps", type=_positive_int, default=None, help="MAX_STEPS (default: 250)"
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
        help="what a chosen pixel becomes (default: %(default)s)",
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
        help="network of M and M_R (default: %(default)s)",
    )
    rp.add_argument(
        "--seeds", type=_positive_int, default=3, help="seeds, mean and sd (default: %(default)s)"
    )
    rp.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None) -> int:
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
            parser.error(str(exc))
        print(f"robustsk annotate: open {server.url}")
        server.serve_forever()
    return 0


def _reproduce(args):
    if args.name == "aqpl":
        return _reproduce_aqpl(args)
    if args.name == "rpr":
        return _reproduce_rpr(args)
    if args.name == "budgets":
        return _reproduce_budgets(args)
    return _reproduce_robust_al(args)


def _robust_al_config(args: argparse.Namespace) -> Any:
    """The RobustALConfig that ``robustsk reproduce robust-al`` arguments ask for."""
    from .query import ROBUST_AL_STRATEGIES
    from .reproduce import RobustALConfig

    changes: dict[str, Any] = {"random_state": args.seed}
    if args.strategies:
        names = (
            list(ROBUST_AL_STRATEGIES)
            if args.strategies == "all"
            else [s.strip() for s in args.strategies.split(",") if s.strip()]
        )
        changes["strategies"] = tuple(names)
    if args.stages:
        changes["n_stages"] = args.stages
    if args.full:
        return RobustALConfig.paper(**changes)
    if args.large:
        return RobustALConfig.cpu_large(**changes)
    return RobustALConfig(**changes)


def _reproduce_robust_al(args: argparse.Namespace) -> None:
    from .datasets import load_mnist
    from .reproduce import run_robust_al_seeds

    cfg = _robust_al_config(args)
    command = f"robustsk reproduce robust-al --mnist MNIST --out {args.out} --seeds {args.seeds}"
    command += " --large" * args.large + " --full" * args.full
    if args.strategies:
        command += f" --strategies {args.strategies}"
    if args.stages:
        command += f" --stages {args.stages}"
    command += f" --seed {args.seed}"
    X_pool, y_pool = load_mnist(args.mnist, subset="train", n_samples=cfg.n_pool, return_X_y=True)
    X_test, y_test = load_mnist(args.mnist, subset="test", n_samples=cfg.n_test, return_X_y=True)
    run_robust_al_seeds(
        X_pool,
        y_pool,
        X_test,
        y_test,
        args.out,
        cfg,
        seeds=args.seeds,
        command=command,
        verbose=0 if args.quiet else 1,
    )


def _reproduce_aqpl(args):
    from .datasets import load_mnist
    from .reproduce import AQPLConfig, run_aqpl_seeds

    changes: dict[str, Any] = {"random_state": args.seed}
    if args.rounds:
        changes["n_rounds"] = args.rounds
    if args.annotator_sigma is not None:
        changes["annotator_sigma"] = args.annotator_sigma
    if args.table_sigma is not None:
        changes["table_sigma"] = args.table_sigma
    cfg = AQPLConfig.paper(**changes) if args.full else AQPLConfig(**changes)
    X, y = load_mnist(
        args.mnist, subset="train", n_samples=cfg.n_train + cfg.n_reference, return_X_y=True
    )
    X_test, y_test = load_mnist(args.mnist, subset="test", n_samples=cfg.n_test, return_X_y=True)
    run_aqpl_seeds(
        X, y, X_test, y_test, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1
    )


def _reproduce_rpr(args: argparse.Namespace) -> None:
    from . import nets
    from .datasets import load_mnist
    from .reproduce import RPRConfig, run_rpr_seeds

    changes: dict[str, Any] = {
        "random_state": args.seed,
        "value": args.value,
        "replace": not args.distinct,
        "module": getattr(nets, args.module),
    }
    for flag, field in (
        ("n_train", "n_train"),
        ("n_test", "n_test"),
        ("n_per_class", "n_per_class"),
        ("epochs", "epochs"),
        ("retrain_epochs", "retrain_epochs"),
        ("max_steps", "max_steps"),
        ("k", "k"),
    ):
        if getattr(args, flag) is not None:
            changes[field] = getattr(args, flag)
    cfg = RPRConfig.paper(**changes) if args.full else RPRConfig(**changes)
    X, y = load_mnist(args.mnist, subset="train", n_samples=cfg.n_train, return_X_y=True)
    X_test, y_test = load_mnist(args.mnist, subset="test", n_samples=cfg.n_test, return_X_y=True)
    run_rpr_seeds(
        X, y, X_test, y_test, args.out, cfg, seeds=args.seeds, verbose=0 if args.quiet else 1
    )


def _reproduce_budgets(args: argparse.Namespace) -> None:
    from .datasets import load_mnist
    from .reproduce import BudgetsConfig, run_budgets

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
    cfg = BudgetsConfig.paper(**changes) if args.full else BudgetsConfig(**changes)
    X, y = load_mnist(args.mnist, subset="train", n_samples=cfg.n_train, return_X_y=True)
    X_test, y_test = load_mnist(args.mnist, subset="test", n_samples=cfg.n_test, return_X_y=True)
    run_budgets(X, y, X_test, y_test, args.out, cfg, verbose=0 if args.quiet else 1)


if __name__ == "__main__":
    sys.exit(main())
