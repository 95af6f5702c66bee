"""The ``robustsk`` command line."""

from __future__ import annotations

import argparse
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robustsk", description="Robust classifiers and robustness-aware active learning.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="Standard vs Gaussian-noise vs adaptive-noise training on digits.",
        description="Train Standard, GNT and adaptive-noise models on the embedded digits and "
                    "report clean, Gaussian-noise and 15-corruption accuracy (AQPL Table 1 "
                    "columns) as a table, CSV and PNG.")
    demo.add_argument("--out", default="robustsk-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--epochs", type=_positive_int, default=40,
                      help="training epochs per model (default: %(default)s)")
    demo.add_argument("--severity", type=int, choices=range(1, 6), default=3,
                      help="corruption severity 1-5 (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(args.out, max_epochs=args.epochs, severity=args.severity,
                 random_state=args.seed, verbose=0 if args.quiet else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
