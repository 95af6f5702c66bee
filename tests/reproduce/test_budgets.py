import csv
import pickle

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
    for row in table3:  # the clean error's two halves, bounded by inclusion-exclusion
        for budget in ("uniform", "learned"):
            digit, mark = row[f"{budget}_digit_read"], row[f"{budget}_watermark_read"]
            correct = 100 - row[f"{budget}_clean_error"]
            assert max(0.0, digit + mark - 100) - 1e-9 <= correct <= min(digit, mark) + 1e-9
        # a mark is at most 0.3 bright, so uniform boxes of 0.3 or 0.4 always meet the
        # counterpart's: no classifier is verified on more than half of such pairs
        assert row["uniform_verification_floor"] == 50.0
        assert 0.0 <= row["learned_verification_floor"] <= 50.0
    assert (
        "Test images whose watermark / digit the model reads"
        in (tmp_path / "summary.md").read_text()
        and "| learned: floor |" in (tmp_path / "summary.md").read_text()
    )
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


# ------------------------------------------------------------------ resume


def _toy_table1(**changes):
    params = dict(n_train=240, n_test=60, max_epochs=2, ramp_start=0, ramp_length=1, module=MLP)
    return BudgetsConfig(tables=(1,), **{**params, **changes})


def _counting_fits(monkeypatch):
    """Count CertifiedBudgetClassifier.fit calls (each is a model trained)."""
    from robustsk.estimators import CertifiedBudgetClassifier

    calls = []
    fit = CertifiedBudgetClassifier.fit

    def counted(self, X, y, **kw):
        calls.append(self.budget_mode)
        return fit(self, X, y, **kw)

    monkeypatch.setattr(CertifiedBudgetClassifier, "fit", counted)
    return calls


def test_resume_reuses_finished_models_and_evaluates_them_again(digits28, tmp_path, monkeypatch):
    X_train, X_test, y_train, y_test = digits28
    data = (X_train, y_train, X_test, y_test)
    calls = _counting_fits(monkeypatch)
    first, _ = run_budgets(*data, tmp_path, _toy_table1(eval_bound="crown-ibp"), verbose=0)
    assert calls == ["uniform", "learned"]
    # the same settings, another verification bound: nothing trained, the models re-scored
    again, _ = run_budgets(*data, tmp_path, _toy_table1(eval_bound="ibp"), verbose=0, resume=True)
    assert calls == ["uniform", "learned"]
    best, _ = run_budgets(*data, tmp_path, _toy_table1(eval_bound="best"), verbose=0, resume=True)
    for a, b, c in zip(first, again, best):
        assert a["clean_error"] == b["clean_error"] == c["clean_error"]  # the same models
        # "best" verifies whatever either bound verifies, so its error is at most both
        for key in ("verified_error_uniform", "verified_error_learned"):
            assert c[key] <= min(a[key], b[key]) + 1e-9
    assert "verified by the tighter of IBP and CROWN-IBP" in (tmp_path / "summary.md").read_text()
    # a run cut short: the missing model alone is trained
    (tmp_path / "models" / "mnist-learned-0.4.pkl").unlink()
    run_budgets(*data, tmp_path, _toy_table1(), verbose=0, resume=True)
    assert calls == ["uniform", "learned", "learned"]
    # without resume, everything is trained again (the old behaviour)
    run_budgets(*data, tmp_path, _toy_table1(), verbose=0)
    assert calls[3:] == ["uniform", "learned"]


def test_resume_refuses_a_model_trained_otherwise_and_retrains_a_torn_one(
    digits28, tmp_path, monkeypatch
):
    X_train, X_test, y_train, y_test = digits28
    data = (X_train, y_train, X_test, y_test)
    run_budgets(*data, tmp_path, _toy_table1(), verbose=0)
    saved = tmp_path / "models" / "mnist-uniform-0.4.pkl"
    before = saved.read_bytes()
    calls = _counting_fits(monkeypatch)
    # the first model missing, the second trained otherwise: refused before the first is trained
    saved.rename(saved.with_suffix(".away"))
    with pytest.raises(ValueError, match="mnist-learned-0.4.pkl was trained with other"):
        run_budgets(*data, tmp_path, _toy_table1(max_epochs=3), verbose=0, resume=True)
    assert calls == []
    saved.with_suffix(".away").rename(saved)
    with pytest.raises(
        ValueError,
        match=r"mnist-uniform-0.4.pkl was trained with other .*"
        r"max_epochs=2, this run 3.*another output folder",
    ):
        run_budgets(*data, tmp_path, _toy_table1(max_epochs=3), verbose=0, resume=True)
    with pytest.raises(ValueError, match="240 training examples, this run 200"):
        run_budgets(*data, tmp_path, _toy_table1(n_train=200), verbose=0, resume=True)
    assert calls == [] and saved.read_bytes() == before  # refused before any training
    # a torn file (an older version killed while saving): warned about and trained again
    saved.write_bytes(before[: len(before) // 2])
    with pytest.warns(RuntimeWarning, match="cannot be read .* training that model again"):
        run_budgets(*data, tmp_path, _toy_table1(), verbose=0, resume=True)
    assert calls == ["uniform"]
    with pytest.raises(TypeError, match="resume must be"):
        run_budgets(*data, tmp_path, _toy_table1(), verbose=0, resume="yes")
    with pytest.raises(ValueError, match="eval_bound must be one of"):
        _toy_table1(eval_bound="exact")


def test_a_model_is_saved_whole_or_not_at_all(tmp_path):
    """A save that fails half-way (here: an unpicklable part) leaves the old file as it was
    and no temporary file behind."""
    from robustsk.reproduce._saved_models import save_model

    path = tmp_path / "model.pkl"
    save_model({"weights": [1, 2, 3]}, path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_model({"weights": [4, 5, 6], "broken": lambda: None}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]
    # the file gets the permissions a plain open() would give it, not mkstemp's 0600
    with open(tmp_path / "plain", "wb"):
        pass
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


def test_cli_budgets_resume_and_eval_bound_reach_the_run(tmp_path, monkeypatch):
    import robustsk.reproduce._budgets as budgets

    seen = {}

    def fake_run(*data, out, cfg=None, verbose=1, resume=False):
        seen.update(out=out, cfg=cfg, resume=resume)
        return [], []

    monkeypatch.setattr(
        budgets, "run_budgets", lambda *a, **k: fake_run(*a[:4], out=a[4], cfg=a[5], **k)
    )
    main(
        [
            "reproduce",
            "budgets",
            "--out",
            str(tmp_path),
            "--resume",
            "--eval-bound",
            "ibp",
            "--quiet",
        ]
    )
    assert seen["resume"] is True and seen["cfg"].eval_bound == "ibp"
    main(["reproduce", "budgets", "--out", str(tmp_path), "--quiet"])
    assert seen["resume"] is False and seen["cfg"].eval_bound == "best"
    assert seen["cfg"].watermark_eps0 == (0.3, 0.4)  # the paper's two levels by default
    argv = ["reproduce", "budgets", "--out", str(tmp_path), "--quiet", "--tables", "3"]
    main([*argv, "--watermark-eps0", "0.3", "0.3"])  # a level once, however often given
    assert seen["cfg"].tables == (3,) and seen["cfg"].watermark_eps0 == (0.3,)
    main([*argv, "--watermark-eps0", "0.2", "0.5"])
    assert seen["cfg"].watermark_eps0 == (0.2, 0.5)


@pytest.mark.parametrize(
    "changes, error, words",
    [
        ({"watermark_eps0": (0.3, 0.0)}, ValueError, r"each of watermark_eps0 must be in \(0.0"),
        ({"watermark_eps0": (0.3, float("nan"))}, ValueError, "must be finite"),
        ({"watermark_eps0": ()}, ValueError, "watermark_eps0 must hold distinct"),
        ({"watermark_eps0": (0.3, 0.3)}, ValueError, "watermark_eps0 must hold distinct"),
        ({"watermark_eps0": 0.3}, TypeError, "watermark_eps0 must be a tuple"),
        ({"watermark_eps0": "0.3"}, TypeError, "watermark_eps0 must be a tuple"),
        ({"cifar_eps0": ("8/255",)}, TypeError, "each of cifar_eps0 must be a real number"),
        ({"mnist_eps0": -0.4}, ValueError, r"mnist_eps0 must be in \(0.0"),
        ({"doubled_eps0": None}, TypeError, "doubled_eps0 must be a real number"),
    ],
)
def test_config_refuses_bad_eps0_levels_before_any_training(changes, error, words):
    with pytest.raises(error, match=words):
        BudgetsConfig(**changes)
    with pytest.raises(error, match=words):
        BudgetsConfig.paper(**changes)


def test_saved_parameters_compare_by_value_not_identity():
    import functools

    import torch

    from robustsk.reproduce._saved_models import _same

    assert _same(functools.partial(int, base=2), functools.partial(int, base=2))
    assert not _same(functools.partial(int, base=2), functools.partial(int, base=8))
    assert _same(torch.nn.Linear(2, 3), torch.nn.Linear(2, 3))  # rebuilt by every run
    assert not _same(torch.nn.Linear(2, 3), torch.nn.Linear(3, 3))
    assert _same(np.arange(3), np.arange(3)) and not _same(np.arange(3), np.arange(4))
    assert not _same(object(), object())  # a repr with an address never matches
    assert not _same((0.5, 2.0), [0.5, 2.0]) and _same((0.5, 2.0), (0.5, 2.0))
