"""The data a reproduction runs on (``--dataset``, ``--data``): checks, loading, the paper's
network for each data set, and toy runs on small files written as distributed."""

import csv
import warnings

import numpy as np
import pytest

from robustsk.cli import main
from robustsk.reproduce import data_problem, load_split
from tests._files import write_cifar10, write_mnist_like, write_svhn


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """CIFAR-10, SVHN and Fashion-MNIST folders, each with 800 training and 100 test images."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    (root / "cifar").mkdir()
    write_cifar10(root / "cifar", rng, n_per_batch=160, n_test=100)
    write_svhn(root / "svhn", rng, n_train=800, n_test=100)
    write_mnist_like(root / "fashion", rng, n_train=800, n_test=100)
    return {
        "cifar10": root / "cifar",
        "doubled-cifar": root / "cifar",
        "svhn": root / "svhn",
        "fashion-mnist": root / "fashion",
        "mnist": root / "fashion",
    }


# ------------------------------------------------------------------ checks and loading
@pytest.mark.parametrize(
    "dataset, shape",
    [
        ("mnist", (1, 28, 28)),
        ("fashion-mnist", (1, 28, 28)),
        ("svhn", (3, 32, 32)),
        ("cifar10", (3, 32, 32)),
        ("doubled-cifar", (3, 36, 64)),
    ],
)
def test_load_split_reads_each_data_set(folders, dataset, shape):
    assert data_problem(dataset, str(folders[dataset])) is None
    X, y, X_test, y_test = load_split(dataset, str(folders[dataset]), 30, 7)
    assert X.shape == (30, *shape) and X_test.shape == (7, *shape)
    assert X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.shape == (30,) and y_test.shape == (7,) and set(y) <= set(range(10))


def test_cifar_folder_may_be_the_batches_or_the_folder_above(folders):
    inner = folders["cifar10"] / "cifar-10-batches-py"
    assert data_problem("cifar10", str(inner)) is None
    a = load_split("cifar10", str(inner), 5, 5)
    b = load_split("cifar10", str(folders["cifar10"]), 5, 5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_doubled_cifar_is_seeded_and_pairs_cifar_images(folders):
    X, y, _, _ = load_split("cifar10", str(folders["cifar10"]), 20, 5)
    D, yd, _, _ = load_split("doubled-cifar", str(folders["cifar10"]), 20, 5, random_state=3)
    again = load_split("doubled-cifar", str(folders["cifar10"]), 20, 5, random_state=3)
    np.testing.assert_array_equal(D, again[0])
    # Every doubled image holds its own CIFAR image in one half, below the strip.
    halves = np.stack([D[:, :, 4:, :32], D[:, :, 4:, 32:]], axis=1)
    own = np.abs(halves - X[:, None]).max(axis=(2, 3, 4))
    assert (own.min(axis=1) == 0).all()
    assert set(yd) <= set(y)


@pytest.mark.parametrize(
    "dataset, missing",
    [
        ("cifar10", "test_batch"),
        ("svhn", "test_32x32.mat"),
        ("fashion-mnist", "t10k-labels-idx1-ubyte"),
    ],
)
def test_data_problem_names_the_missing_file(folders, tmp_path, dataset, missing):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folders[dataset], copy)
    for path in copy.rglob(missing + "*"):
        path.unlink()
    problem = data_problem(dataset, str(copy))
    assert problem is not None and missing in problem
    assert "is not a folder" in data_problem(dataset, str(tmp_path / "nowhere"))
    assert "unknown data set" in data_problem("imagenet", str(copy))


# ------------------------------------------------------------------ the command line refuses
@pytest.mark.parametrize(
    "argv, message",
    [
        (["reproduce", "aqpl", "--dataset", "cifar10"], "cifar10 needs --data PATH"),
        (["reproduce", "robust-al", "--mnist", "m", "--dataset", "svhn"], "--dataset svhn --data"),
        (["reproduce", "budgets", "--mnist", "m", "--data", "m"], "not allowed with --data"),
        (["reproduce", "rpr", "--dataset", "cifar10", "--data", "x"], "invalid choice"),
        (["reproduce", "aqpl", "--dataset", "svhn", "--data", "x"], "invalid choice"),
        (["reproduce", "robust-al", "--toy", "--large", "--data", "x"], "not allowed with"),
    ],
)
def test_bad_data_options_fail_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and "Traceback" not in err


def test_missing_data_file_is_named_before_any_work(folders, tmp_path, capsys):
    import shutil

    copy = tmp_path / "svhn"
    shutil.copytree(folders["svhn"], copy)
    (copy / "train_32x32.mat").unlink()
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "robust-al", "--dataset", "svhn", "--data", str(copy)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --data" in err and "train_32x32.mat" in err


def test_tables_must_be_the_data_sets(folders, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "budgets", "--dataset", "cifar10", "--data", "x", "--tables", "1"])
    assert "argument --data" in capsys.readouterr().err  # the folder is checked first
    folder = str(folders["cifar10"])
    with pytest.raises(SystemExit):
        main(["reproduce", "budgets", "--dataset", "cifar10", "--data", folder, "--tables", "1"])
    err = capsys.readouterr().err
    assert "argument --tables" in err and "(2, 4)" in err


# ------------------------------------------------------------------ the paper's settings
def test_each_data_set_gets_the_papers_network_and_radii():
    from robustsk.nets import CIFAR10_MEAN, CNN7, SVHN_MEAN, VGG8, VGG16, LeNet5, PreActResNet18
    from robustsk.reproduce import AQPLConfig, BudgetsConfig, RobustALConfig

    fashion = RobustALConfig.for_dataset("fashion-mnist")
    assert fashion.module is LeNet5 and fashion.eps == 0.3 and fashion.module_kwargs == {}
    svhn = RobustALConfig.for_dataset("svhn")
    assert svhn.module is VGG8 and svhn.module_kwargs["normalize"][0] == SVHN_MEAN
    cifar = RobustALConfig.paper(dataset="cifar10")
    assert cifar.module is VGG16 and cifar.module_kwargs["normalize"][0] == CIFAR10_MEAN
    assert cifar.eps == pytest.approx(8 / 255) and cifar.eval_alpha == pytest.approx(2 / 255)
    assert cifar.train_alpha == pytest.approx(2 / 255) and cifar.train_steps == 40
    # Table 3's budgets: initial + stages x new.
    budgets = {"mnist": 5000, "fashion-mnist": 6000, "svhn": 10000, "cifar10": 25000}
    for dataset, budget in budgets.items():
        cfg = RobustALConfig.paper(dataset=dataset)
        assert cfg.n_initial + cfg.n_stages * cfg.n_per_stage == budget
        assert cfg.dataset == dataset
    assert RobustALConfig.paper() == RobustALConfig.paper(dataset="mnist")

    aqpl = AQPLConfig.paper(dataset="cifar10")
    assert aqpl.module is PreActResNet18 and aqpl.n_train + aqpl.n_reference == 50000
    assert aqpl.sigma_init < aqpl.annotator_sigma < max(aqpl.eval_sigmas) <= 0.3
    cert = BudgetsConfig.paper(dataset="cifar10")
    assert cert.module is CNN7 and cert.tables == (2, 4) and cert.max_epochs == 320
    assert cert.cifar_eps0 == pytest.approx((8 / 255, 32 / 255))
    assert cert.cifar_ratio_range == (0.125, 2.0) and cert.doubled_ratio_range == (0.0625, 1.5)
    assert BudgetsConfig.for_dataset("doubled-cifar").tables == (4,)
    with pytest.raises(ValueError, match=r"tables=\(1,\).*\(2, 4\)"):
        BudgetsConfig.for_dataset("cifar10", tables=(1,))
    with pytest.raises(ValueError, match="dataset"):
        RobustALConfig.for_dataset("imagenet")


def test_a_toy_run_shrinks_the_colour_network_only():
    import torch

    from robustsk.reproduce import BudgetsConfig, RobustALConfig

    toy = RobustALConfig.for_dataset("cifar10", toy=True)
    full = RobustALConfig.for_dataset("cifar10")
    assert toy.module_kwargs["width_factor"] == 1 / 16 and "width_factor" not in full.module_kwargs
    small = toy.module(**toy.module_kwargs)
    big = full.module(**full.module_kwargs)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(small) < count(big) / 100
    assert small(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert RobustALConfig.for_dataset("mnist", toy=True).module_kwargs == {}
    cnn = BudgetsConfig.for_dataset("doubled-cifar", toy=True)
    net = cnn.module(input_shape=(3, 36, 64), **cnn.module_kwargs).eval()
    assert net(torch.zeros(1, 3, 36, 64)).shape == (1, 10)


# ------------------------------------------------------------------ toy runs end to end
def _run(argv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(argv) == 0


def test_robust_al_toy_run_on_cifar10(folders, tmp_path, capsys):
    out = tmp_path / "ral"
    _run(
        ["reproduce", "robust-al", "--dataset", "cifar10", "--data", str(folders["cifar10"]),
         "--toy", "--seeds", "1", "--strategies", "random,dre", "--stages", "1", "--quiet",
         "--out", str(out)]
    )  # fmt: skip
    summary = (out / "summary.md").read_text()
    assert "CIFAR-10 / VGG16 (width_factor=0.0625)" in summary and "eps 8/255" in summary
    assert "--dataset cifar10 --data PATH --toy" in summary
    with open(out / "seed-0" / "stages.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["strategy"] for r in rows} >= {"random", "dre"}


@pytest.mark.parametrize("dataset", ["svhn", "fashion-mnist"])
def test_robust_al_toy_run_on_svhn_and_fashion_mnist(folders, tmp_path, dataset):
    out = tmp_path / dataset
    _run(
        ["reproduce", "robust-al", "--dataset", dataset, "--data", str(folders[dataset]),
         "--toy", "--seeds", "1", "--strategies", "random", "--stages", "1", "--quiet",
         "--out", str(out)]
    )  # fmt: skip
    summary = (out / "summary.md").read_text()
    network = "SVHN / VGG8 (width_factor=0.0625)" if dataset == "svhn" else "Fashion-MNIST / LeNet5"
    assert network in summary


@pytest.mark.slow
def test_aqpl_toy_run_on_cifar10(folders, tmp_path):
    out = tmp_path / "aqpl"
    _run(
        ["reproduce", "aqpl", "--dataset", "cifar10", "--data", str(folders["cifar10"]),
         "--toy", "--seeds", "1", "--rounds", "1", "--quiet", "--out", str(out)]
    )  # fmt: skip
    with open(out / "seed-0" / "table1.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"Standard", "GNT", "CAT", "AQPL-GNT", "AQPL-CAT"}
    assert "sigma_0.3" in rows["GNT"] and "sigma_1.2" not in rows["GNT"]  # CIFAR-10's sweep


@pytest.mark.parametrize("dataset, tables", [("cifar10", ("2", "4")), ("doubled-cifar", ("4",))])
def test_budgets_toy_run_on_cifar10_and_doubled_cifar(folders, tmp_path, dataset, tables):
    out = tmp_path / dataset
    _run(
        ["reproduce", "budgets", "--dataset", dataset, "--data", str(folders[dataset]),
         "--toy", "--max-epochs", "1", "--n-train", "64", "--n-test", "16", "--quiet",
         "--out", str(out)]
    )  # fmt: skip
    written = {p.name for p in out.iterdir()}
    assert {f"table{k}.csv" for k in tables} <= written
    assert not {f"table{k}.csv" for k in "13"} & written
    summary = (out / "summary.md").read_text()
    if "2" in tables:
        with open(out / "table2.csv") as f:
            rows = [r["training_budgets"] for r in csv.DictReader(f)]
        assert rows == [
            "Uniform eps0=8/255", "Learned eps0=8/255", "Uniform eps0=32/255", "Learned eps0=32/255"
        ]  # fmt: skip
        assert "Table 2 (CIFAR-10" in summary and "budgets_cifar10.png" in written
    assert "Table 4 (Doubled CIFAR-10)" in summary and "| 16/255 |" in summary
    assert "budgets_doubled.png" in written
