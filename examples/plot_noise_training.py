"""
Noise training: accuracy against noise level, and where adaptive levels go
==========================================================================

Trains three models on the embedded digits -- standard training, Gaussian
noise training at a fixed level (GNT) and adaptive per-example levels -- then

* plots test accuracy against the strength of additive Gaussian noise
  (a "noise ladder" of accuracies), and
* plots the histogram of the per-example levels ``sigma_`` the adaptive model
  ended with: examples it copes with were pushed to stronger noise.

Writes ``noise_training.png`` into the folder given as the first argument
(default: the current folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import NoiseTrainedClassifier, RobustNetClassifier  # noqa: E402
from robustsk.perturb import GaussianNoise  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
epochs = 2 if small else 40

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
common = dict(
    module__hidden_units=(256,),
    lr=3e-3,
    batch_size=64,
    max_epochs=epochs,
    random_state=0,
    verbose=0,
)
models = {
    "Standard": RobustNetClassifier(**common),
    "GNT (sigma=0.4)": NoiseTrainedClassifier(sigma=0.4, **common),
    "Adaptive (start 0.4)": NoiseTrainedClassifier(sigma=0.4, sigma_mode="adaptive", **common),
}
for model in models.values():
    model.fit(X_train, y_train)

sigmas = np.round(np.arange(0.0, 0.81, 0.1), 2)
curves = {
    name: [model.score(GaussianNoise(s, random_state=0)(X_test), y_test) for s in sigmas]
    for name, model in models.items()
}
for name, accs in curves.items():
    print(f"{name:<22}" + " ".join(f"{a:.2f}" for a in accs))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
for name, accs in curves.items():
    ax1.plot(sigmas, accs, marker="o", label=name)
ax1.set_xlabel("test noise sigma")
ax1.set_ylabel("accuracy")
ax1.set_title("Accuracy under Gaussian noise")
ax1.legend()
adaptive = models["Adaptive (start 0.4)"]
ax2.hist(adaptive.sigma_, bins=30)
ax2.axvline(0.4, color="k", linestyle="--", label="start")
ax2.set_xlabel("per-example sigma_ after training")
ax2.set_title("Adaptive noise levels")
ax2.legend()
fig.tight_layout()
fig.savefig(out_dir / "noise_training.png", dpi=120)
print(f"wrote {out_dir / 'noise_training.png'}")
