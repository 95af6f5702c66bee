"""The RPR reproduction: its run and command line, the perturbation readings and seeds (the
scheme recorded in the outputs), the summary over seeds and the paper's claim checked on
hand-made records."""

import csv
import dataclasses
import gzip
import struct
import warnings

import numpy as np
import pytest

from robustsk.cli import build_parser
from robustsk.nets import MLP
from robustsk.perturb import RandomPixels
from robustsk.reproduce import RPRConfig, run_rpr, run_rpr_seeds, summarize_rpr_seeds


def _seed(rr_m, rr_r, acc_m=0.98, acc_r=0.97, **extra):
    return [
        {"model": "M", "test_accuracy": acc_m, "test_robust_ratio": rr_m, **extra},
        {"model": "M_R", "test_accuracy": acc_r, "test_robust_ratio": rr_r, **extra},
    ]


def _tiny_cfg(**changes):
    params = dict(
        n_train=300,
        n_test=80,
        n_per_class=8,
        max_epochs=2,
        retrain_epochs=2,
        max_steps=8,
        k=4,
        lr=1e-2,
        module=MLP,
    )
    params.update(changes)
    return RPRConfig(**params)


# ------------------------------------------------------------ the claim, by hand
def test_claim_holds_when_the_gain_is_beyond_the_spread_within_three_points():
    s = summarize_rpr_seeds([_seed(0.30, 0.50), _seed(0.32, 0.49), _seed(0.29, 0.52)])
    claim = s["claim"]
    gain = np.array([0.20, 0.17, 0.23])
    assert claim["robust_gain_mean"] == pytest.approx(gain.mean())
    assert claim["robust_gain_sd"] == pytest.approx(gain.std(ddof=1))
    assert claim["accuracy_change_mean"] == pytest.approx(-0.01)
    assert claim["robust_gain_beyond_spread"] and claim["accuracy_within"] and claim["holds"]
    assert (
        claim["statement"].startswith("The paper's claim")
        and " holds over 3 seeds" in (claim["statement"])
    )
    assert s["rows"][2]["claim"] == "holds" and s["rows"][0]["claim"] == ""


@pytest.mark.parametrize(
    "seeds, beyond, within",
    [
        # mean gain 0.05 with sd 0.1: not beyond the seed spread
        ([_seed(0.30, 0.45), _seed(0.30, 0.25), _seed(0.30, 0.35)], False, True),
        # a clear gain, but 4 points of accuracy lost
        ([_seed(0.3, 0.5, 0.98, 0.94), _seed(0.3, 0.5, 0.98, 0.94)], True, False),
        # exactly 3 points lost is within
        ([_seed(0.3, 0.5, 0.98, 0.95), _seed(0.3, 0.52, 0.98, 0.95)], True, True),
        # M_R less robust than M
        ([_seed(0.88, 0.84), _seed(0.89, 0.83), _seed(0.87, 0.85)], False, True),
        # one seed: no spread, the sign decides
        ([_seed(0.30, 0.31)], True, True),
    ],
)
def test_claim_check_on_hand_made_records(seeds, beyond, within):
    claim = summarize_rpr_seeds(seeds)["claim"]
    assert claim["robust_gain_beyond_spread"] == beyond
    assert claim["accuracy_within"] == within
    assert claim["holds"] == (beyond and within)
    assert ("does not hold" in claim["statement"]) == (not (beyond and within))


def test_summary_rows_are_mean_and_sd_of_the_seeds():
    seeds = [
        _seed(0.30, 0.50, 0.98, 0.97, test_mean_steps=100.0, value="invert", k=28),
        _seed(0.40, 0.45, 0.99, 0.96, test_mean_steps=120.0, value="invert", k=28),
    ]
    seeds[0][0]["train_robust_ratio"] = 0.7
    seeds[1][0]["train_robust_ratio"] = 0.8
    for rows in seeds:
        rows[1]["train_robust_ratio"] = ""
    m, m_r, diff = summarize_rpr_seeds(seeds)["rows"]
    assert [m["model"], m_r["model"], diff["model"]] == ["M", "M_R", "M_R - M"]
    assert m["n_seeds"] == 2 and m["value"] == "invert" and m["k"] == 28
    assert m["test_robust_ratio_mean"] == pytest.approx(0.35)
    assert m["test_robust_ratio_sd"] == pytest.approx(np.std([0.30, 0.40], ddof=1))
    assert m_r["test_accuracy_mean"] == pytest.approx(0.965)
    assert m["train_robust_ratio_mean"] == pytest.approx(0.75)
    assert m_r["train_robust_ratio_mean"] == "" and diff["train_robust_ratio_sd"] == ""
    assert diff["test_robust_ratio_mean"] == pytest.approx(np.mean([0.20, 0.05]))
    assert diff["test_robust_ratio_sd"] == pytest.approx(np.std([0.20, 0.05], ddof=1))
    assert diff["test_accuracy_mean"] == pytest.approx(np.mean([-0.01, -0.03]))


def test_summary_refuses_bad_records():
    with pytest.raises(ValueError, match="per_seed must hold"):
        summarize_rpr_seeds([])
    with pytest.raises(ValueError, match=r"per_seed\[1\] must hold a row with model 'M'"):
        summarize_rpr_seeds([_seed(0.3, 0.5), _seed(0.3, 0.5)[:1]])
    bad = _seed(0.3, 0.5)
    bad[1]["test_accuracy"] = ""
    with pytest.raises(ValueError, match="'M_R' row needs a number in 'test_accuracy'"):
        summarize_rpr_seeds([bad])


# ------------------------------------------------------------- the reproduction
def test_run_rpr_records_the_scheme(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = _tiny_cfg(k=None, value="salt_and_pepper", replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        results = run_rpr(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    expected = {
        "module": "MLP",
        "k": 8,
        "value": "salt_and_pepper",
        "replace": False,
        "shortfall": "keep",
    }
    assert all({key: r[key] for key in expected} == expected for r in results)
    with open(tmp_path / "results.csv") as f:
        assert {r["value"] for r in csv.DictReader(f)} == {"salt_and_pepper"}
    summary = (tmp_path / "summary.md").read_text()
    assert "value='salt_and_pepper'" in summary and "distinct (exactly k)" in summary


def test_bad_scheme_is_refused_before_any_training(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    with pytest.raises(ValueError, match="value must be one of.*got 'gaussian'"):
        run_rpr(X_train, y_train, X_test, y_test, tmp_path / "a", _tiny_cfg(value="gaussian"))
    with pytest.raises(ValueError, match="k must be at most the number of pixels"):
        run_rpr_seeds(
            X_train, y_train, X_test, y_test, tmp_path / "b", _tiny_cfg(k=65, replace=False)
        )
    with pytest.raises(ValueError, match="seeds must be in"):
        run_rpr_seeds(X_train, y_train, X_test, y_test, tmp_path / "c", _tiny_cfg(), seeds=0)
    with pytest.raises(ValueError, match="shortfall must be one of.*got 'top'"):
        run_rpr(X_train, y_train, X_test, y_test, tmp_path / "d", _tiny_cfg(shortfall="top"))
    with pytest.raises(TypeError, match="control must be a bool, got 'yes'"):
        run_rpr(X_train, y_train, X_test, y_test, tmp_path / "e", _tiny_cfg(control="yes"))
    assert not any(tmp_path.iterdir())  # nothing written


def test_run_rpr_seeds_summarizes_the_per_seed_results(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = _tiny_cfg(value="invert", random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        summary = run_rpr_seeds(X_train, y_train, X_test, y_test, tmp_path, cfg, seeds=2, verbose=0)
    per_seed = summary["per_seed"]
    assert len(per_seed) == 2 and per_seed[0] != per_seed[1]  # seeds 5 and 6 differ
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = run_rpr(
            X_train,
            y_train,
            X_test,
            y_test,
            tmp_path / "again",
            _tiny_cfg(value="invert", random_state=6),
            verbose=0,
        )
    assert again == per_seed[1]  # seed k is cfg.random_state + k
    for k, rows in enumerate(per_seed):
        with open(tmp_path / f"seed-{k}" / "results.csv") as f:
            written = list(csv.DictReader(f))
        assert [float(r["test_robust_ratio"]) for r in written] == pytest.approx(
            [r["test_robust_ratio"] for r in rows]
        )
    with open(tmp_path / "summary_seeds.csv") as f:
        table = {r["model"]: r for r in csv.DictReader(f)}
    for model, column in (("M", "test_accuracy"), ("M_R", "test_robust_ratio")):
        values = [next(r for r in rows if r["model"] == model)[column] for rows in per_seed]
        assert float(table[model][f"{column}_mean"]) == pytest.approx(np.mean(values))
        assert float(table[model][f"{column}_sd"]) == pytest.approx(np.std(values, ddof=1))
    gains = [rows[1]["test_robust_ratio"] - rows[0]["test_robust_ratio"] for rows in per_seed]
    assert float(table["M_R - M"]["test_robust_ratio_mean"]) == pytest.approx(np.mean(gains))
    assert table["M_R - M"]["claim"] in ("holds", "does not hold")
    text = (tmp_path / "summary.md").read_text()
    assert summary["claim"]["statement"] in text
    assert "seed-1 | 6 |" in text and f"`{cfg.command(seeds=2)}`" in text


def test_config_command_runs_the_same_configuration():
    cfg = _tiny_cfg(value="white", replace=False, module=MLP, random_state=3, lr=1e-3)
    command = cfg.command(seeds=4)
    args = build_parser().parse_args(command.replace("PATH", "data").split()[1:])
    assert (args.n_train, args.n_test, args.n_per_class, args.max_epochs) == (300, 80, 8, 2)
    assert (args.retrain_epochs, args.max_steps, args.k) == (2, 8, 4)
    assert (args.value, args.distinct, args.module, args.seed, args.seeds) == (
        "white",
        True,
        "MLP",
        3,
        4,
    )
    assert "from Python" not in command
    assert "from Python, with lr=0.01" in _tiny_cfg(lr=1e-2).command()
    assert "--distinct" not in RPRConfig().command() and "--k" not in RPRConfig().command()
    assert "--shortfall" not in RPRConfig().command()
    filled = build_parser().parse_args(
        RPRConfig(shortfall="fill").command().replace("PATH", "data").split()[1:]
    )
    assert filled.shortfall == "fill" and not filled.control
    control = build_parser().parse_args(
        RPRConfig(control=True).command().replace("PATH", "data").split()[1:]
    )
    assert control.control
    balanced = _tiny_cfg(n_per_class="min", lr=1e-3).command()
    assert "--n-per-class" not in balanced and "with n_per_class='min')" in balanced


def test_shortfall_fill_gives_m_r_a_class_balanced_set(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = _tiny_cfg(n_train=400, n_test=100, n_per_class=30, max_steps=15)
    rows = {}
    for shortfall in ("keep", "fill"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            run_rpr(
                X_train,
                y_train,
                X_test,
                y_test,
                tmp_path / shortfall,
                dataclasses.replace(cfg, shortfall=shortfall),
                verbose=0,
            )
        with open(tmp_path / shortfall / "per_class.csv") as f:
            rows[shortfall] = {int(r["class"]): r for r in csv.DictReader(f)}
    kept, filled = rows["keep"], rows["fill"]
    assert any(int(r["n_robust"]) < 30 for r in kept.values())  # some class is short
    for c, r in filled.items():
        n_robust = int(r["n_robust"])
        assert int(r["n_selected"]) == min(30, int(r["n_train"]))
        assert int(r["n_filled"]) == max(0, min(30, int(r["n_train"])) - n_robust)
        assert int(kept[c]["n_selected"]) == min(30, n_robust) and kept[c]["n_filled"] == "0"
    assert "(short classes: fill)" in (tmp_path / "fill" / "summary.md").read_text()


def test_control_is_a_random_set_of_m_r_s_size_trained_like_m_r(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = _tiny_cfg(control=True, random_state=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        summary = run_rpr_seeds(X_train, y_train, X_test, y_test, tmp_path, cfg, seeds=2, verbose=0)
    for k, rows in enumerate(summary["per_seed"]):
        named = {r["model"]: r for r in rows}
        assert list(named) == ["M", "M_R", "M_rand"]
        assert named["M_rand"]["n_train"] == named["M_R"]["n_train"] < named["M"]["n_train"]
        with open(tmp_path / f"seed-{k}" / "curves.csv") as f:
            last = list(csv.DictReader(f))[-1]
        assert float(last["robust_ratio_M_rand"]) == pytest.approx(
            named["M_rand"]["test_robust_ratio"]
        )
    table = {r["model"]: r for r in summary["rows"]}
    acc = {
        m: np.array(
            [
                next(r for r in rows if r["model"] == m)["test_accuracy"]
                for rows in summary["per_seed"]
            ]
        )
        for m in ("M", "M_R", "M_rand")
    }
    assert table["M_R - M_rand"]["test_accuracy_mean"] == pytest.approx(
        (acc["M_R"] - acc["M_rand"]).mean()
    )
    assert table["M_rand - M"]["test_accuracy_sd"] == pytest.approx(
        np.std(acc["M_rand"] - acc["M"], ddof=1)
    )
    text = (tmp_path / "summary.md").read_text()
    assert "Control (M_rand" in text and "| M_rand |" in text and "--control" in text
    # a run without the control has none of it
    no_control = summarize_rpr_seeds(
        [[r for r in rows if r["model"] != "M_rand"] for rows in summary["per_seed"]]
    )
    assert [r["model"] for r in no_control["rows"]] == ["M", "M_R", "M_R - M"]


def test_cli_offers_every_reading():
    rpr = build_parser()._subparsers._group_actions[0].choices["reproduce"]
    rpr = rpr._subparsers._group_actions[0].choices["rpr"]
    value = next(a for a in rpr._actions if a.dest == "value")
    assert tuple(value.choices) == RandomPixels.VALUES and value.default == "uniform"
    args = build_parser().parse_args(["reproduce", "rpr", "--mnist", "m"])
    assert (args.value, args.distinct, args.k, args.module, args.seeds) == (
        "uniform",
        False,
        None,
        "LeNet5",
        3,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "rpr", "--mnist", "m", "--value", "gauss"])


# ------------------------------------------------ the run and the command line


def test_run_rpr_writes_results_curves_and_figure(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = _tiny_cfg(n_train=400, n_test=100, n_per_class=10, max_steps=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        results = run_rpr(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    assert [r["model"] for r in results] == ["M", "M_R"]
    assert all(0 <= r["test_robust_ratio"] <= r["test_accuracy"] <= 1 for r in results)
    with open(tmp_path / "curves.csv") as f:
        curve = list(csv.DictReader(f))
    assert len(curve) == 15
    assert float(curve[-1]["robust_ratio_M"]) == pytest.approx(results[0]["test_robust_ratio"])
    with open(tmp_path / "per_class.csv") as f:
        assert len(list(csv.DictReader(f))) == 10
    assert "0.2957" in (tmp_path / "summary.md").read_text()  # the paper's number beside ours
    assert (tmp_path / "rpr_curves.png").read_bytes()[:4] == b"\x89PNG"
    paper = RPRConfig.paper()
    assert (paper.n_train, paper.n_test, paper.n_per_class, paper.max_steps) == (
        60000,
        10000,
        1500,
        250,
    )


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(str(path) + ".gz", "wb") as f:
        f.write(header + array.astype(">u1").tobytes())


def test_cli_reproduce_rpr_on_a_tiny_fake_mnist(tmp_path, capsys):
    from robustsk.cli import main

    rng = np.random.default_rng(0)
    labels = np.arange(80) % 10
    images = rng.integers(0, 40, size=(80, 28, 28)).astype(np.uint8)
    for c in range(10):  # a bright bar whose position is the class: learnable
        images[labels == c, 2 * c + 3 : 2 * c + 6, 4:24] = 255
    data = tmp_path / "mnist"
    data.mkdir()
    for prefix, n in (("train", 80), ("t10k", 40)):
        _write_idx(data / f"{prefix}-images-idx3-ubyte", images[:n])
        _write_idx(data / f"{prefix}-labels-idx1-ubyte", labels[:n].astype(np.uint8))
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert (
            main(
                [
                    "reproduce",
                    "rpr",
                    "--mnist",
                    str(data),
                    "--out",
                    str(out),
                    "--n-train",
                    "80",
                    "--n-test",
                    "40",
                    "--n-per-class",
                    "2",
                    "--epochs",
                    "2",
                    "--retrain-epochs",
                    "2",
                    "--max-steps",
                    "5",
                    "--k",
                    "10",
                    "--value",
                    "invert",
                    "--distinct",
                    "--seeds",
                    "2",
                    "--quiet",
                ]
            )
            == 0
        )
    for seed in ("seed-0", "seed-1"):
        for name in ("results.csv", "per_class.csv", "curves.csv", "summary.md", "rpr_curves.png"):
            assert (out / seed / name).stat().st_size > 0
    with open(out / "seed-1" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["module"], r["k"], r["value"], r["replace"]) for r in rows] == [
        ("LeNet5", "10", "invert", "False")
    ] * 2
    with open(out / "summary_seeds.csv") as f:
        assert [r["model"] for r in csv.DictReader(f)] == ["M", "M_R", "M_R - M"]
    summary = (out / "summary.md").read_text()
    assert "over 2 seeds" in summary and "--value invert --distinct" in summary
    with pytest.raises(SystemExit):  # without --data: only what the embedded digits hold
        main(["reproduce", "rpr", "--n-train", "60000"])
    assert "--data PATH" in capsys.readouterr().err
