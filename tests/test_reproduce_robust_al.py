import csv

import pytest

from robustsk.reproduce import RobustALConfig, run_robust_al

from robustsk.nets import MLP

TINY = dict(
    strategies=("random", "dre"),
    n_pool=800,
    n_test=200,
    n_initial=100,
    n_per_stage=100,
    n_stages=2,
    epochs_per_stage=5,
    eps=0.1,
    train_alpha=0.025,
    train_steps=5,
    eval_steps=10,
    eval_alpha=0.025,
    lr=1e-2,
    module=MLP,
)


def test_robust_al_stage_loop_writes_csv_summary_and_curves(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    records = run_robust_al(
        X_train, y_train, X_test, y_test, tmp_path, RobustALConfig(**TINY), verbose=0
    )
    with open(tmp_path / "stages.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(records) == 3 * 3  # (2 strategies + standard run) x 3 stages
    for run in ("random", "dre"):
        labels = [
            int(r["n_labeled"]) for r in rows if r["strategy"] == run and r["training"] == "robust"
        ]
        assert labels == [100, 200, 300]
    robust = [r for r in records if r["training"] == "robust" and r["stage"] == 2]
    standard = [r for r in records if r["training"] == "standard" and r["stage"] == 2]
    # Table 1's point: without adversarial training the robustness is far lower
    assert min(r["pgd"] for r in robust) > standard[0]["pgd"] + 0.15
    summary = (tmp_path / "summary.md").read_text()
    assert "| dre | robust |" in summary and "| random | standard |" in summary
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_paper_config_and_errors(digits, tmp_path):
    paper = RobustALConfig.paper()
    assert (paper.n_initial, paper.n_per_stage, paper.n_stages) == (200, 200, 24)
    assert (paper.train_steps, paper.train_alpha, paper.eval_steps) == (40, 0.01, 50)
    assert len(paper.strategies) == 12
    X_train, X_test, y_train, y_test = digits
    with pytest.raises(ValueError, match="strategies must be from"):
        run_robust_al(
            X_train,
            y_train,
            X_test,
            y_test,
            tmp_path,
            RobustALConfig(strategies=("bogus",)),
            verbose=0,
        )


def test_cli_reproduce_requires_mnist(capsys):
    from robustsk.cli import main

    with pytest.raises(SystemExit):
        main(["reproduce", "robust-al"])
    assert "--mnist" in capsys.readouterr().err
