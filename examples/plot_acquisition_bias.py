"""
Acquisition strategies and their selection bias
===============================================

Trains a small network on 100 labelled digits, lets each of the robust active
learning paper's 12 acquisition functions pick 150 examples from the rest, and
measures each selection's bias (section 6): the Jensen-Shannon divergence
between the selected set's and the pool's entropy distribution, and between
their label distributions. DRE is built to keep the entropy bias near zero;
MaxEntropy-like strategies sit at the other end.

Also shows the modAL-style loop with :class:`robustsk.active.ActiveLearner`.

Writes ``acquisition_bias.png`` into the folder given as the first argument
(default: the current folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustsk.active import ActiveLearner  # noqa: E402
from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402
from robustsk.nets import LeNet5  # noqa: E402
from robustsk.query import ROBUST_AL_STRATEGIES, dre, selection_bias  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")

X, y = load_digits_images(return_X_y=True)
rng = np.random.default_rng(0)
order = rng.permutation(len(X))
labelled, pool = order[:100], order[100:]
n_select = 150
net = NoiseTrainedClassifier(
    LeNet5, max_epochs=3 if small else 30, lr=3e-3, verbose=0, random_state=0, classes=np.arange(10)
)
net.fit(X[labelled], y[labelled])
print(f"accuracy on the pool after 100 labels: {net.score(X[pool], y[pool]):.3f}")

bias = {}
for name, strategy in ROBUST_AL_STRATEGIES.items():
    kw = {"X_labeled": X[labelled]} if name == "coreset" else {}
    if name == "dfal" and small:
        kw["max_iter"] = 5
    idx, _ = strategy(net, X[pool], n_select, random_state=0, **kw)
    bias[name] = selection_bias(net, X[pool], idx, y_pool=y[pool])
    print(
        f"{name:<18} entropy JSD {bias[name]['entropy']:.3f}   label JSD {bias[name]['label']:.3f}"
    )

names = sorted(bias, key=lambda n: bias[n]["entropy"])
fig, ax = plt.subplots(figsize=(9, 4))
pos = np.arange(len(names))
ax.bar(pos - 0.2, [bias[n]["entropy"] for n in names], 0.4, label="entropy")
ax.bar(pos + 0.2, [bias[n]["label"] for n in names], 0.4, label="label")
ax.set_xticks(pos, names, rotation=40, ha="right")
ax.set_ylabel("Jensen-Shannon divergence\n(selection vs pool)")
ax.set_title(f"Selection bias of {n_select} picks from {len(pool)} digits")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "acquisition_bias.png", dpi=120)
print(f"wrote {out_dir / 'acquisition_bias.png'}")

# The modAL-style loop with a durable journal of answers.
learner = ActiveLearner(
    net,
    dre,
    X[labelled],
    y[labelled],
    warm_start=True,
    journal=out_dir / "answers.jsonl",
    random_state=0,
)
pool_X, pool_y = X[pool], y[pool]
for stage in range(2):
    idx, _ = learner.query(pool_X, n_instances=50)
    learner.teach(pool_X[idx], pool_y[idx])  # the oracle here is the known label
    pool_X, pool_y = np.delete(pool_X, idx, 0), np.delete(pool_y, idx)
    print(
        f"stage {stage + 1}: {len(learner.X_training)} labels, "
        f"accuracy on the rest {learner.score(pool_X, pool_y):.3f}"
    )
