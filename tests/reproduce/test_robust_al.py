import csv

import numpy as np
import pytest

from robustsk.nets import MLP
from robustsk.query import dre_select, jensen_shannon
from robustsk.reproduce import (
    RobustALConfig,
    paired_differences,
    run_robust_al,
    run_robust_al_seeds,
    selection_bias_summary,
    stagewise_differences,
    summarize_seeds,
)
from robustsk.reproduce._robust_al import format_seeds_summary

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


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_robust_al_stage_loop_writes_csv_summary_and_curves(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    records = run_robust_al(
        X_train, y_train, X_test, y_test, tmp_path, RobustALConfig(**TINY), verbose=0
    )
    rows = _read(tmp_path / "stages.csv")
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
    # every querying stage records its batch's section-6 bias; the last stage queries nothing
    for r in records:
        queried = r["stage"] < 2
        assert ("entropy_jsd" in r) == queried and ("label_jsd" in r) == queried
        if queried:
            assert 0.0 <= r["entropy_jsd"] <= 1.0 and 0.0 <= r["label_jsd"] <= 1.0
    assert rows[0]["entropy_jsd"] != "" and rows[2]["entropy_jsd"] == ""


def test_seeds_ceiling_coreset_bald_and_autoattack_subset(digits, tmp_path):
    """Two seeds of core-set and BALD in the stage loop, AutoAttack on a subset at the last
    stage, and the ceiling on the whole pool; the summary is the per-seed values' mean and sd."""
    pytest.importorskip("torchattacks")
    X_train, X_test, y_train, y_test = digits
    cfg = RobustALConfig(
        **{
            **TINY,
            "strategies": ("coreset", "bald"),
            "n_pool": 400,
            "n_test": 100,
            "n_stages": 1,
            "epochs_per_stage": 2,
            "train_steps": 2,
            "eval_steps": 3,
            "standard_run": None,
            "ceiling": True,
            "autoattack": True,
            "n_test_autoattack": 20,
            "autoattack_stages": "last",
        }
    )
    summary, differences = run_robust_al_seeds(
        X_train, y_train, X_test, y_test, tmp_path, cfg, seeds=2, command="cmd", verbose=0
    )
    assert differences == []  # neither pair (dre, random, max_entropy) ran
    per_seed = [_read(tmp_path / f"seed-{k}" / "stages.csv") for k in range(2)]
    for rows in per_seed:
        for name in ("coreset", "bald"):
            run = [r for r in rows if r["strategy"] == name]
            assert [int(r["n_labeled"]) for r in run] == [100, 200]
            assert [r["autoattack"] != "" for r in run] == [False, True]  # the last stage only
        (ceiling,) = [r for r in rows if r["strategy"] == "ceiling"]
        assert int(ceiling["n_labeled"]) == 400  # its last epoch saw the whole pool
        # compute-matched: ceil(2 epochs x (100 + 200) labels / 400) = 2 epochs
        assert int(ceiling["epochs"]) == 2 and ceiling["stage"] == "1"
    # the seeds differ (random_state + k) and the summary is their mean and sd
    assert per_seed[0][-1]["pgd"] != per_seed[1][-1]["pgd"] or (
        per_seed[0][1]["accuracy"] != per_seed[1][1]["accuracy"]
    )
    assert [(r["strategy"], r["training"]) for r in summary] == [
        ("coreset", "robust"),
        ("bald", "robust"),
        ("ceiling", "robust"),
    ]
    for row in summary:
        last = [[r for r in rows if r["strategy"] == row["strategy"]][-1] for rows in per_seed]
        for metric in ("accuracy", "pgd", "autoattack"):
            values = np.array([float(r[metric]) for r in last])
            assert row[f"{metric}_mean"] == pytest.approx(values.mean())
            assert row[f"{metric}_sd"] == pytest.approx(values.std(ddof=1))
    csv_rows = _read(tmp_path / "summary_seeds.csv")
    assert float(csv_rows[2]["autoattack_mean"]) == pytest.approx(summary[2]["autoattack_mean"])
    text = (tmp_path / "summary.md").read_text()
    assert "Command: `cmd`" in text and "| ceiling | robust | 400 |" in text
    assert "AutoAttack (standard) on the first 20" in text
    # no DRE / random pair to compare stage by stage, but both strategies' selection bias
    assert "Paired differences at every stage" not in text
    assert "| coreset | 1 |" in text and "| bald | 1 |" in text
    assert len(_read(tmp_path / "stages_seeds.csv")) == 2 * (2 + 2 + 1)
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def _record(strategy, seed, pgd, accuracy=0.9, stage=3, training="robust"):
    return dict(
        strategy=strategy,
        training=training,
        seed=seed,
        stage=stage,
        n_labeled=1000,
        accuracy=accuracy,
        pgd=pgd,
    )


def test_summary_and_paired_differences_on_known_numbers():
    dre, rnd, ent = [0.60, 0.70, 0.80], [0.50, 0.60, 0.65], [0.49, 0.61, 0.50]
    records = [
        # earlier stages are ignored: only each run's last stage counts
        *[_record(s, k, 0.0, stage=0) for s in ("dre", "random", "max_entropy") for k in range(3)],
        *[_record("dre", k, v) for k, v in enumerate(dre)],
        *[_record("random", k, v, accuracy=0.8) for k, v in enumerate(rnd)],
        *[_record("max_entropy", k, v) for k, v in enumerate(ent)],
        *[_record("random", k, 0.0, training="standard") for k in range(3)],
    ]
    summary = {(r["strategy"], r["training"]): r for r in summarize_seeds(records)}
    assert summary[("dre", "robust")]["pgd_mean"] == pytest.approx(0.70)
    assert summary[("dre", "robust")]["pgd_sd"] == pytest.approx(0.10)
    assert summary[("random", "standard")]["n_seeds"] == 3
    assert "autoattack_mean" not in summary[("dre", "robust")]
    diffs = {(d["difference"], d["metric"]): d for d in paired_differences(records)}
    d = diffs[("dre - random", "pgd")]
    # d = (0.10, 0.10, 0.15): mean 0.1167, sd 0.0289 -> beyond 2 sd; but sd(dre) + sd(random)
    # = 0.100 + 0.0764 = 0.176 > 0.1167 -> not beyond the seeds' spread
    assert d["mean"] == pytest.approx(0.35 / 3)
    assert d["sd"] == pytest.approx(np.std([0.10, 0.10, 0.15], ddof=1))
    assert d["sd_b"] == pytest.approx(np.std(rnd, ddof=1))
    assert d["beyond_2sd"] and not d["beyond_seed_spread"]
    assert d["per_seed"] == "0.1000 0.1000 0.1500"
    e = diffs[("random - max_entropy", "pgd")]  # (0.01, -0.01, 0.15): noisy
    assert not e["beyond_2sd"] and not e["beyond_seed_spread"]
    a = diffs[("dre - random", "accuracy")]  # 0.1 on every seed: sd 0, beyond both
    assert a["mean"] == pytest.approx(0.1) and a["beyond_2sd"] and a["beyond_seed_spread"]
    # one seed: no test can pass
    one = paired_differences([r for r in records if r["seed"] == 0])
    assert not any(d["beyond_2sd"] or d["beyond_seed_spread"] for d in one)
    assert paired_differences(records, [("dre", "coreset")]) == []


def test_stagewise_differences_and_selection_bias_on_known_numbers():
    records = []
    for k, (dre_pgd, rnd_pgd) in enumerate([((0.2, 0.5), (0.3, 0.5)), ((0.2, 0.6), (0.1, 0.4))]):
        for stage in (0, 1):
            records.append(
                {**_record("dre", k, dre_pgd[stage], stage=stage), "entropy_jsd": 0.01 * (k + 1)}
            )
            records.append(
                {**_record("random", k, rnd_pgd[stage], stage=stage), "entropy_jsd": 0.1}
            )
    records.append(_record("random", 0, 0.0, stage=1, training="standard"))
    rows = stagewise_differences(records, "dre", "random")
    assert [r["stage"] for r in rows] == [0, 1]
    # stage 0: d = (-0.1, +0.1); stage 1: d = (0.0, +0.2)
    assert rows[0]["mean"] == pytest.approx(0.0) and rows[0]["n_positive"] == 1
    assert rows[0]["sd"] == pytest.approx(np.std([-0.1, 0.1], ddof=1))
    assert rows[1]["mean"] == pytest.approx(0.1) and rows[1]["n_positive"] == 1
    assert rows[1]["per_seed"] == "0.0000 0.2000"
    assert stagewise_differences(records, "dre", "coreset") == []
    bias = {r["strategy"]: r for r in selection_bias_summary(records)}
    assert set(bias) == {"dre", "random"}  # the standard run recorded no bias
    assert bias["dre"]["entropy_jsd_mean"] == pytest.approx(0.015)
    assert bias["dre"]["entropy_jsd_sd"] == pytest.approx(np.std([0.01, 0.02], ddof=1))
    assert bias["random"]["n_batches"] == 2 and "label_jsd_mean" not in bias["random"]
    text = format_seeds_summary(
        summarize_seeds(records), paired_differences(records), RobustALConfig(), records=records
    )
    assert "Paired differences at every stage, dre - random, PGD-50" in text
    assert "| 1000 | +0.0, +20.0 | +10.00 | 14.14 | 1 of 2 |" in text
    assert "| dre | 2 | 0.0150 +- 0.0071 | - |" in text


def test_dre_matches_the_pool_entropy_histogram_closer_than_random():
    """What DRE is for (section 7): its batch's entropy histogram is closer to the pool's
    than a random batch's, on every one of 20 paired draws of a skewed pool."""
    rng = np.random.default_rng(0)
    entropy = np.concatenate([rng.exponential(0.05, 4500), rng.uniform(0.5, 2.3, 500)])
    edges = np.histogram_bin_edges(entropy, bins=50)
    pool_hist, _ = np.histogram(entropy, bins=edges)

    def jsd(idx):
        return jensen_shannon(np.histogram(entropy[idx], bins=edges)[0], pool_hist)

    for seed in range(20):
        draw = np.random.default_rng(seed)
        dre_jsd = jsd(dre_select(entropy, 200, draw))
        random_jsd = jsd(draw.choice(len(entropy), 200, replace=False))
        assert dre_jsd < random_jsd


def test_presets_and_errors(digits, tmp_path):
    paper = RobustALConfig.paper()
    assert (paper.n_initial, paper.n_per_stage, paper.n_stages) == (200, 200, 24)
    assert (paper.train_steps, paper.train_alpha, paper.eval_steps) == (40, 0.01, 50)
    assert len(paper.strategies) == 12
    large = RobustALConfig.cpu_large()
    assert set(large.strategies) == {"dre", "random", "max_entropy", "coreset", "bald"}
    assert large.n_initial + large.n_stages * large.n_per_stage >= 3000
    assert large.ceiling and large.autoattack and large.eval_steps == 50
    assert large.n_test_autoattack < large.n_test and large.autoattack_stages == "last"
    assert RobustALConfig.cpu_large(n_stages=2).n_stages == 2
    X_train, X_test, y_train, y_test = digits
    for bad, match in (
        ({"strategies": ("bogus",)}, "strategies must be from"),
        ({"autoattack_stages": "some"}, "autoattack_stages must be one of"),
        ({"n_test_autoattack": 0}, r"n_test_autoattack must be in \[1"),
        ({"ceiling_epochs": 0}, r"ceiling_epochs must be in \[1"),
        ({"standard_run": "bogus"}, "standard_run must be one of"),
    ):
        with pytest.raises(ValueError, match=match):
            run_robust_al(
                X_train, y_train, X_test, y_test, tmp_path, RobustALConfig(**bad), verbose=0
            )
    with pytest.raises(ValueError, match=r"seeds must be in \[1"):
        run_robust_al_seeds(X_train, y_train, X_test, y_test, tmp_path, seeds=0, verbose=0)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_cli_reproduce_requires_an_existing_mnist_folder(tmp_path, capsys):
    from robustsk.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "robust-al", "--mnist", str(tmp_path / "nowhere")])
    assert exc.value.code == 2 and "--mnist" in capsys.readouterr().err


def test_cli_seeds_and_large_preset(capsys):
    from robustsk.cli import REPRODUCTIONS, build_parser

    config = REPRODUCTIONS["robust-al"].config
    parser = build_parser()
    args = parser.parse_args(["reproduce", "robust-al", "--mnist", "m"])
    assert args.seeds == 3 and not args.large
    assert config(args) == RobustALConfig()
    args = parser.parse_args(
        ["reproduce", "robust-al", "--mnist", "m", "--large", "--seeds", "2", "--seed", "5"]
    )
    assert args.seeds == 2
    assert config(args) == RobustALConfig.cpu_large(random_state=5)
    args = parser.parse_args(["reproduce", "robust-al", "--mnist", "m", "--large", "--stages", "3"])
    assert config(args).n_stages == 3
    for bad in (["--large", "--full"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["reproduce", "robust-al", "--mnist", "m", *bad])
        assert capsys.readouterr().err


def test_trades_in_the_stage_loop(digits, tmp_path, capsys):
    """--train-loss trades trains every robust run of the stage loop with TRADES."""
    from robustsk.cli import REPRODUCTIONS, build_parser
    from robustsk.estimators import AdversarialClassifier

    args = build_parser().parse_args(
        ["reproduce", "robust-al", "--mnist", "m", "--train-loss", "trades"]
    )
    assert REPRODUCTIONS["robust-al"].config(args).train_loss == "trades"
    X_train, X_test, y_train, y_test = digits
    cfg = RobustALConfig(**{**TINY, "strategies": ("random",)},
                         train_loss="trades", trades_beta=6.0)  # fmt: skip
    fitted = []
    original = AdversarialClassifier.fit

    def spy(self, *a, **k):
        fitted.append((self.loss, self.beta))
        return original(self, *a, **k)

    AdversarialClassifier.fit = spy
    try:
        records = run_robust_al(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    finally:
        AdversarialClassifier.fit = original
    assert fitted and set(fitted) == {("trades", 6.0)}
    robust = [r for r in records if r["training"] == "robust" and r["stage"] == 2]
    standard = [r for r in records if r["training"] == "standard" and r["stage"] == 2]
    assert robust[0]["pgd"] > standard[0]["pgd"] + 0.1  # measured 0.69 against 0.405
