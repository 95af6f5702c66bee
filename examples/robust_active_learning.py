"""
Robust active learning: DRE against random and MaxEntropy, with adversarial training
==================================================================================

Runs the stage loop of robust active learning (an initial labelled set, +n
labels per stage, PGD adversarial training after each stage) for three
acquisition functions, plus one run with standard training, and writes the
per-stage CSV, the accuracy/robustness curves (like the paper's Figure 2) and a
Table 5-like summary.

Data: MNIST when ``ROBUSTSK_MNIST`` names a folder of its idx files, else the
embedded digits. Output goes to the folder given as the first argument
(default: ``robust-al``). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
The command line does the same on MNIST: ``robustsk reproduce robust-al --mnist PATH``.
"""

import os
import sys
from pathlib import Path

from sklearn.model_selection import train_test_split

from robustsk.datasets import load_digits_images, load_mnist
from robustsk.nets import MLP
from robustsk.reproduce import RobustALConfig, run_robust_al

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("robust-al")
mnist = os.environ.get("ROBUSTSK_MNIST")

if mnist:
    X_pool, y_pool = load_mnist(mnist, subset="train", n_samples=5000, return_X_y=True)
    X_test, y_test = load_mnist(mnist, subset="test", n_samples=500, return_X_y=True)
    cfg = RobustALConfig()
else:  # digits: 8x8 images, so a smaller radius and an MLP, which learns them from few labels
    X, y = load_digits_images(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    cfg = RobustALConfig(
        n_pool=len(X_pool),
        n_test=len(X_test),
        n_initial=100,
        n_per_stage=100,
        n_stages=4,
        epochs_per_stage=10,
        eps=0.1,
        train_alpha=0.025,
        train_steps=7,
        eval_alpha=0.01,
        eval_steps=20,
        lr=1e-2,
        module=MLP,
    )
if small:
    cfg.n_stages, cfg.epochs_per_stage, cfg.train_steps, cfg.eval_steps = 1, 1, 2, 3
    cfg.n_pool, cfg.n_test = 500, 200

run_robust_al(X_pool, y_pool, X_test, y_test, out_dir, cfg, verbose=0 if small else 1)
