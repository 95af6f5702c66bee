import csv

from robustsk.nets import MLP
from robustsk.reproduce import AQPLConfig, run_aqpl


def test_aqpl_reproduction_writes_table_and_curves(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = AQPLConfig(
        n_train=300,
        n_test=60,
        n_reference=600,
        epochs=2,
        epochs_per_round=1,
        n_per_side=5,
        n_noise=5,
        n_rounds=2,
        n_draws=4,
        module=MLP,
    )
    table, curves = run_aqpl(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    assert [r["method"] for r in table] == ["Standard", "GNT", "CAT", "AQPL-GNT", "AQPL-CAT"]
    assert all(0 <= r[k] <= 1 for r in table for k in ("clean", "gaussian", "corruptions_mean"))
    with open(tmp_path / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["strategy"] for r in rows} == {
        "random",
        "clean_uncertainty",
        "noise_uncertainty",
        "noise_entropy",
    }
    assert [int(r["queries"]) for r in rows if r["strategy"] == "random"] == [0, 10, 20]
    for name in ("table1.csv", "table1.png", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    paper = AQPLConfig.paper()
    assert (paper.n_per_side, paper.n_noise) == (100, 50)
