"""
RPR: robustness curves and retraining on the robust subset
==========================================================

The randomized perturbation robustness (RPR) of a model at a point counts how
many random perturbations of the point -- each a fresh draw applied to the
original image -- the model classifies correctly before its first mistake; a
point that withstands ``max_steps`` draws is *robust*.

This example, on the embedded digits:

* trains a model M and plots its RPR curve on the test set: the share of
  test images still robust after ``m`` draws, for every ``m`` up to
  ``max_steps``, all from one ``rpr_steps`` run;
* keeps the training images M deems robust, the same number from every class
  (``RobustSubsetSelector``), retrains the same architecture on them (M_R)
  and plots its curve beside M's, as in Figures 3 and 5 of the paper;
* shows robust and non-robust test images (Figure 1).

The perturbation replaces ``k = 4`` random pixels by uniform values: half of
the paper's ``sqrt(n_pixels)``, which on 8x8 digits would replace an eighth of
the image.

Writes ``rpr_robust_subset.png`` into the folder given as the first argument
(default: the current folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import RobustNetClassifier  # noqa: E402
from robustsk.metrics import plot_rpr_curve, rpr_steps  # noqa: E402
from robustsk.perturb import RandomPixels  # noqa: E402
from robustsk.selection import RobustSubsetSelector  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
epochs = 2 if small else 40
max_steps = 20 if small else 250
n_per_class = 20 if small else 40

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scheme = RandomPixels(k=4)
common = dict(module__hidden_units=(256,), lr=3e-3, batch_size=64, random_state=0, verbose=0)

# M, its RPR on the test set
model = RobustNetClassifier(max_epochs=epochs, **common).fit(X_train, y_train)
steps_m = rpr_steps(model, X_test, y_test, perturbation=scheme, max_steps=max_steps, random_state=1)

# the robust subset of the training set, balanced over classes, and M_R trained on it
selector = RobustSubsetSelector(
    model, n_per_class=n_per_class, max_steps=max_steps, perturbation=scheme, random_state=0
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # a class may have fewer robust images
    X_robust, y_robust = selector.fit_resample(X_train, y_train)
# a quarter of M's data: as many optimizer steps as M with 4x the epochs
model_r = RobustNetClassifier(max_epochs=4 * epochs, **common).fit(X_robust, y_robust)
steps_r = rpr_steps(
    model_r, X_test, y_test, perturbation=scheme, max_steps=max_steps, random_state=1
)

print(
    f"robust training images under M: {selector.robust_.mean():.3f} "
    f"(per class: {selector.n_robust_per_class_})"
)
print(f"M_R trains on {len(y_robust)} of {len(y_train)} images")
for name, net, steps in (("M", model, steps_m), ("M_R", model_r, steps_r)):
    print(
        f"{name:<4} test accuracy {net.score(X_test, y_test):.3f}  "
        f"robust ratio {np.mean(steps == max_steps):.3f}"
    )

fig = plt.figure(figsize=(12, 4.5))
grid = fig.add_gridspec(2, 10, wspace=0.3)
ax = fig.add_subplot(grid[:, :5])
plot_rpr_curve(steps_m, max_steps=max_steps, label="M (all training images)", ax=ax)
plot_rpr_curve(steps_r, max_steps=max_steps, label="M_R (robust subset)", ax=ax, linestyle="--")
ax.set_title("Test images still robust after m draws")

# Figure 1: test images M classifies correctly, robust (top) and broken soonest (bottom)
correct = model.predict(X_test) == y_test
robust = np.flatnonzero(correct & (steps_m == max_steps))[:4]
fragile = np.flatnonzero(correct & (steps_m < max_steps))
fragile = fragile[np.argsort(steps_m[fragile], kind="stable")][:4]
for row, (idx, title) in enumerate(((robust, "robust"), (fragile, "not robust"))):
    for col, i in enumerate(idx):
        sub = fig.add_subplot(grid[row, 6 + col])
        sub.imshow(X_test[i, 0], cmap="gray_r", vmin=0, vmax=1)
        sub.set_title(f"{title}\n{y_test[i]}, {steps_m[i]} steps", fontsize=7)
        sub.axis("off")
fig.savefig(out_dir / "rpr_robust_subset.png", dpi=120, bbox_inches="tight")
print(f"wrote {out_dir / 'rpr_robust_subset.png'}")
