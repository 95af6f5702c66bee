import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robustsk.cli import main
from robustsk.nets import MLP
from robustsk.reproduce import BudgetsConfig, run_budgets


@pytest.fixture(scope="module")
def digits28(digits):
    """Digits upsampled to 28x28 (the watermark needs MNIST-sized images)."""
    X_train, X_test, y_train, y_test = digits

    def up(X):
        return F.interpolate(
            torch.from_numpy(X[:, :, :, 1:7]), size=(28, 20), mode="bilinear", align_corners=False
        ).clamp(0, 1)

    def pad(X):
        out = np.zeros((len(X), 1, 28, 28), np.float32)
        out[:, :, :, 4:24] = up(X).numpy()
        return out

    return pad(X_train[:240]), pad(X_test[:60]), y_train[:240], y_test[:60]


def test_budgets_reproduction_writes_tables_and_heatmaps(digits28, tmp_path):
    X_train, X_test, y_train, y_test = digits28
    cfg = BudgetsConfig(
        n_train=240,
        n_test=60,
        max_epochs=2,
        ramp_start=0,
        ramp_length=1,
        module=MLP,
        bound="crown-ibp",
        loss_fusion=True,  # the one-row training bound, through the whole reproduction
    )
    table1, table3 = run_budgets(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    assert [r["training_budgets"] for r in table1] == ["Uniform eps0=0.4", "Learned eps0=0.4"]
    assert [r["eps0"] for r in table3] == [0.3, 0.4]
    for row in table1:
        for key in ("clean_error", "verified_error_uniform", "verified_error_learned"):
            assert 0 <= row[key] <= 100
        # a verified example is correctly classified
        assert row["verified_error_uniform"] >= row["clean_error"] - 1e-9
    with open(tmp_path / "table3.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    for name in ("table1.csv", "budgets_mnist.png", "budgets_watermarked.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert "Table 3" in (tmp_path / "summary.md").read_text()
    paper = BudgetsConfig.paper()
    assert (paper.max_epochs, paper.ramp_length, paper.n_train) == (100, 60, 60000)
    assert (paper.bound, BudgetsConfig().bound) == ("crown-ibp", "ibp")


def test_cli_budgets_requires_an_existing_mnist_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "budgets", "--mnist", str(tmp_path / "nowhere"), "--quiet"])
    assert exc.value.code == 2 and "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # --loss-fusion parses; the folder is checked next
        main(["reproduce", "budgets", "--full", "--loss-fusion", "--mnist", str(tmp_path / "x")])
    assert exc.value.code == 2 and "is not a folder" in capsys.readouterr().err
