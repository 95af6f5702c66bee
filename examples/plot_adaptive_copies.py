"""
Adaptive copies: the same kind of picks for fewer forward passes
================================================================

The randomized pool scores -- AQPL's ``noise_entropy`` and ``noise_uncertainty``
(M noisy copies per example), ``bald`` and ``dropout_entropy`` (T MC-dropout
passes) -- need precision only near the selection's cut-off. With
``adaptive=True`` they draw copies in rounds of 5 and stop for examples whose
side of the cut-off is settled (on by default for the noise scores, an option for
the MC-dropout ones).

This script counts the rows each strategy sends through the network (a forward
hook on the module) with all copies and adaptively, and compares the picks: two
full draws with different seeds already disagree, so the adaptive picks are
measured against that. It writes ``adaptive_copies.png`` (forward rows and
overlaps) into the folder given as the first argument (default: the current
folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402
from robustsk.nets import MLP  # noqa: E402
from robustsk.query import bald, dropout_entropy, noise_entropy, noise_uncertainty  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
out_dir.mkdir(parents=True, exist_ok=True)

X, y = load_digits_images(return_X_y=True)
net = NoiseTrainedClassifier(
    MLP,
    module__hidden_units=(64,),
    module__dropout=0.2,
    sigma=0.3,
    max_epochs=3 if small else 20,
    lr=1e-2,
    verbose=0,
    random_state=0,
).fit(X[:400], y[:400])
pool, picks, draws = X[400:], 20, 50

rows = {"n": 0}


def count_rows(module, args, output):
    rows["n"] += args[0].shape[0]


# the hook goes with the module into the MC-dropout copy that bald makes (a deep copy)
net.module_.register_forward_hook(count_rows)

results = {}
for strategy in (noise_entropy, noise_uncertainty, bald, dropout_entropy):
    chosen, passes = {}, {}
    for label, seed, adaptive in (("full", 0, False), ("full'", 1, False), ("adaptive", 2, True)):
        rows["n"] = 0
        idx, _ = strategy(net, pool, picks, n_draws=draws, random_state=seed, adaptive=adaptive)
        chosen[label], passes[label] = set(idx.tolist()), rows["n"]
    results[strategy.__name__] = (
        passes["full"] / passes["adaptive"],
        len(chosen["full"] & chosen["full'"]) / picks,
        (len(chosen["adaptive"] & chosen["full"]) + len(chosen["adaptive"] & chosen["full'"]))
        / (2 * picks),
    )

print(f"pool {len(pool):,}, {picks} picks, {draws} copies per example")
print(f"{'strategy':<18} {'fewer rows':>10} {'full vs full':>13} {'adaptive vs full':>17}")
for name, (saved, ff, af) in results.items():
    print(f"{name:<18} {saved:>9.2f}x {ff:>13.2f} {af:>17.2f}")

names = list(results)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.bar(names, [results[n][0] for n in names])
ax1.set_ylabel("forward rows, full / adaptive")
ax1.set_title("Passes saved")
width = 0.38
pos = np.arange(len(names))
ax2.bar(pos - width / 2, [results[n][1] for n in names], width, label="full vs full")
ax2.bar(pos + width / 2, [results[n][2] for n in names], width, label="adaptive vs full")
ax2.set_xticks(pos, names)
ax2.set_ylabel(f"overlap of the {picks} picks")
ax2.set_title("Selection kept")
ax2.legend()
for ax in (ax1, ax2):
    ax.tick_params(axis="x", labelrotation=20)
fig.tight_layout()
fig.savefig(out_dir / "adaptive_copies.png", dpi=120)
