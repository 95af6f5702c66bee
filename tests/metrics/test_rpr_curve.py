"""RPR curves: one steps array, monotone, and drawn."""

import numpy as np
import pytest

from robustsk.metrics import plot_rpr_curve, rpr_curve, rpr_score, rpr_steps
from robustsk.perturb import RandomPixels


def test_rpr_curve_is_one_steps_array_and_monotone(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    steps = rpr_steps(
        logreg, X_test, y_test, perturbation=RandomPixels(4), max_steps=60, random_state=0
    )
    m, ratio = rpr_curve(steps, max_steps=60)
    assert m.tolist() == list(range(1, 61))
    assert (np.diff(ratio) <= 0).all()
    for i in (0, 9, 59):
        assert ratio[i] == np.mean(steps >= m[i])
    assert ratio[-1] == rpr_score(
        logreg, X_test, y_test, perturbation=RandomPixels(4), max_steps=60, random_state=0
    )
    assert 0 < ratio[-1] < ratio[0] <= 1
    m_short, ratio_short = rpr_curve(steps, max_steps=10)
    np.testing.assert_array_equal(ratio_short, ratio[:10])
    with pytest.raises(ValueError, match="non-negative integers"):
        rpr_curve([0.5, 1.0])
    with pytest.raises(ValueError, match="must be >= 0"):
        rpr_curve([-1, 2])


def test_plot_rpr_curve_draws_and_saves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_rpr_curve([0, 3, 10, 10], max_steps=10, label="M")
    ax = plot_rpr_curve(
        [2, 10, 10, 10],
        max_steps=10,
        label="M_R",
        ax=ax,
        path=tmp_path / "curves.png",
        linestyle="--",
    )
    assert len(ax.get_lines()) == 2
    assert "robust ratio 0.750" in ax.get_legend().get_texts()[1].get_text()
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    plt.close(ax.figure)
