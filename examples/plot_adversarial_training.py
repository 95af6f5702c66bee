"""
Adversarial training: robustness curves and test selection for retraining
==========================================================================

Trains a standard network and three adversarially trained ones (PGD, fast
FGSM, CAT-style adaptive radii) on the embedded digits, then plots accuracy
under PGD attack against the attack radius. Finally it takes the standard
PGD-trained model, selects 300 held-out examples with DRE, crafts adversarial
examples of them and fine-tunes on them with the training data (section 8 of
the robust active learning paper). Last, it evaluates the PGD-trained model the
way RobustBench does, by the per-point worst case over a list of attacks
(FGSM, PGD, Carlini-Wagner L2), and prints which attack broke how many points
(``adversarial_report``).

Writes ``adversarial_training.png`` into the folder given as the first argument
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
from robustsk.estimators import AdversarialClassifier, RobustNetClassifier  # noqa: E402
from robustsk.metrics import adversarial_accuracy, adversarial_report  # noqa: E402
from robustsk.selection import select_for_retraining  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
epochs = 1 if small else 15
steps = 2 if small else 20

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
X_fit, X_hold, y_fit, y_hold = train_test_split(
    X_train, y_train, test_size=0.3, stratify=y_train, random_state=0
)
common = dict(lr=1e-2, batch_size=32, max_epochs=epochs, verbose=0, random_state=0)
attack = dict(eps=0.1, alpha=0.025, steps=7)
models = {
    "Standard": RobustNetClassifier(**common),
    "PGD-7 (eps 0.1)": AdversarialClassifier(**attack, **common),
    "fast FGSM (eps 0.1)": AdversarialClassifier(eps=0.1, attack="fgsm", **common),
    "adaptive eps (max 0.1)": AdversarialClassifier(**attack, eps_mode="adaptive", **common),
}
radii = np.array([0.0, 0.025, 0.05, 0.075, 0.1, 0.15])
curves = {}
for name, model in models.items():
    model.fit(X_fit, y_fit)
    curves[name] = [
        adversarial_accuracy(
            model, X_test, y_test, eps=r, alpha=max(r / 4, 1e-3), steps=steps, random_state=0
        )
        for r in radii
    ]
    print(f"{name:<24}" + " ".join(f"{a:.2f}" for a in curves[name]))

result = select_for_retraining(
    models["PGD-7 (eps 0.1)"],
    X_hold,
    y_hold,
    300,
    X_train=X_fit,
    y_train=y_fit,
    eps=0.1,
    alpha=0.025,
    steps=steps,
    max_epochs=max(1, epochs // 2),
    random_state=0,
)
curves["PGD-7 + DRE retraining"] = [
    adversarial_accuracy(
        result.estimator, X_test, y_test, eps=r, alpha=max(r / 4, 1e-3), steps=steps, random_state=0
    )
    for r in radii
]
print(
    f"{'PGD-7 + DRE retraining':<24}"
    + " ".join(f"{a:.2f}" for a in curves["PGD-7 + DRE retraining"])
)

report = adversarial_report(
    models["PGD-7 (eps 0.1)"],
    X_test,
    y_test,
    attack=["fgsm", "pgd", "cw"],  # cheap first: each runs on the points still robust
    eps=0.1,
    alpha=0.025,
    steps=steps,
    random_state=0,
)
print(
    f"PGD-7 model, worst case over FGSM, PGD and CW-L2 at eps 0.1: {report.accuracy:.3f} "
    f"(clean {report.clean_accuracy:.3f}); robust after each attack "
    f"{ {k: round(v, 3) for k, v in report.after.items()} }; "
    f"broken by {report.counts}"
)

fig, ax = plt.subplots(figsize=(7, 4))
for name, accs in curves.items():
    ax.plot(radii, accs, marker="o", label=name, linestyle="--" if "retraining" in name else "-")
ax.set_xlabel("PGD radius eps (Linf)")
ax.set_ylabel("accuracy under attack")
ax.set_title("Adversarial training on digits")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "adversarial_training.png", dpi=120)
print(f"wrote {out_dir / 'adversarial_training.png'}")
