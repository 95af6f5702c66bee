import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import robustsk
from robustsk import cli
from robustsk.cli import main
from robustsk.reproduce import _data

REPRODUCTIONS = ["robust-al", "aqpl", "budgets", "rpr"]


def _subparsers(parser):
    """{name: subparser} of ``parser``'s subcommands."""
    return next(a for a in parser._actions if a.dest in ("command", "name")).choices


def _all_parsers():
    top = cli.build_parser()
    commands = _subparsers(top)
    found = {"robustsk": top, "demo": commands["demo"], "annotate": commands["annotate"]}
    for name, parser in _subparsers(commands["reproduce"]).items():
        found[f"reproduce {name}"] = parser
    return found


# ------------------------------------------------------------------ demo and entry points
def test_demo_writes_table_csv_and_png(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    for name in ("Standard", "GNT", "Adaptive noise", "clean", "15 corr."):
        assert name in printed
    with open(tmp_path / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["Standard", "GNT", "Adaptive noise"]
    assert all(0 <= float(r["clean"]) <= 1 for r in rows)
    assert sum(k.startswith("c_") for k in rows[0]) == 15
    png = (tmp_path / "accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "robustsk", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out and "reproduce" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"robustsk {robustsk.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "robustsk", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"robustsk {robustsk.__version__}"


# ------------------------------------------------------------------ help: defaults and run times
@pytest.mark.parametrize("name", list(_all_parsers()))
def test_help_shows_every_default(name):
    parser = _all_parsers()[name]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0:  # flags are off by default
            continue
        shown = formatter._get_help_string(action)
        assert "default:" in shown, f"{name} {action.option_strings[0]}: {shown!r}"
    text = parser.format_help()
    assert "default: None" not in text and "(default: %" not in text


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_help_gives_the_run_time_of_each_size(name):
    text = " ".join(_all_parsers()[f"reproduce {name}"].format_help().split())
    assert "Run time on a 2-core CPU:" in text
    run_times = cli.REPRODUCTIONS[name].run_times
    sizes = [size for size, _ in run_times]
    assert sizes[0].startswith("without --data") and sizes[1].startswith("default")
    assert sizes[-1].startswith("--full")
    for size, estimate in run_times:
        assert f"{size}: {estimate}" in text
        assert re.search(r"\d|a minute|an hour|GPU", estimate), estimate
    overview = " ".join(_all_parsers()["robustsk"].format_help().split())
    assert "reproduce" in overview
    group = " ".join(
        _subparsers(cli.build_parser())["reproduce"].format_help().split()
    )  # the default-size time of every reproduction, in one place
    assert f"{name}: {run_times[1][1]}" in group and "2-core CPU" in group


def _configs():
    from robustsk.reproduce import AQPLConfig, BudgetsConfig, RobustALConfig, RPRConfig

    return {
        "robust-al": (RobustALConfig, {"--large": RobustALConfig.cpu_large}),
        "aqpl": (AQPLConfig, {}),
        "budgets": (BudgetsConfig, {}),
        "rpr": (RPRConfig, {}),
    }


#: Options whose help states the sizes' values, and the configuration field they set.
SIZE_OPTIONS = {
    ("robust-al", "--stages"): "n_stages",
    ("aqpl", "--rounds"): "n_rounds",
    ("budgets", "--n-train"): "n_train",
    ("budgets", "--n-test"): "n_test",
    ("budgets", "--max-epochs"): "max_epochs",
    ("rpr", "--n-train"): "n_train",
    ("rpr", "--n-test"): "n_test",
    ("rpr", "--n-per-class"): "n_per_class",
    ("rpr", "--max-epochs"): "max_epochs",
    ("rpr", "--retrain-epochs"): "retrain_epochs",
    ("rpr", "--max-steps"): "max_steps",
}


@pytest.mark.parametrize(
    "name, option", list(SIZE_OPTIONS), ids=[f"{n}{o}" for n, o in SIZE_OPTIONS]
)
def test_help_numbers_are_the_configurations(name, option):
    """The defaults a help text states in words are those of the configuration classes."""
    field = SIZE_OPTIONS[name, option]
    cls, presets = _configs()[name]
    action = next(
        a for a in _all_parsers()[f"reproduce {name}"]._actions if option in a.option_strings
    )
    stated = dict(re.findall(r"(default|--large|--full|without --data): ([\d,]+)", action.help))
    expected = {
        "default": getattr(cls(), field),
        "without --data": cli.REPRODUCTIONS[name].toy_sizes[field],
    }
    if "--full" in stated:
        expected["--full"] = getattr(cls.paper(), field)
    for flag, preset in presets.items():
        expected[flag] = getattr(preset(), field)
    assert {k: int(v.replace(",", "")) for k, v in stated.items()} == expected


def test_help_words_are_the_configurations():
    from robustsk.query import ROBUST_AL_STRATEGIES
    from robustsk.reproduce import AQPLConfig, RobustALConfig

    parsers = _all_parsers()
    helps = {
        (n, a.option_strings[0]): a.help
        for n in ("reproduce robust-al", "reproduce aqpl")
        for a in parsers[n]._actions
        if a.option_strings
    }
    strategies = helps["reproduce robust-al", "--strategies"]
    assert f"default: {','.join(RobustALConfig().strategies)};" in strategies
    assert f"--large: {','.join(RobustALConfig.cpu_large().strategies)};" in strategies
    assert RobustALConfig.paper().strategies == tuple(ROBUST_AL_STRATEGIES)
    assert (
        f"default: {AQPLConfig().annotator_sigma}" in helps["reproduce aqpl", "--annotator-sigma"]
    )
    sweep = helps["reproduce aqpl", "--table-sigma"]
    assert "0.1, 0.2, ..., 1.2" in sweep and AQPLConfig().eval_sigmas[::11] == (0.1, 1.2)
    assert ", ".join(map(str, cli.REPRODUCTIONS["aqpl"].toy_sizes["eval_sigmas"])) in sweep


# ------------------------------------------------------------------ the registry
def test_every_reproduction_module_is_registered():
    """Each ``reproduce/_<paper>_cli.py`` is in the registry, in --help's order."""
    from pathlib import Path

    import robustsk.reproduce

    folder = Path(robustsk.reproduce.__file__).parent
    modules = {f"robustsk.reproduce.{f.stem}" for f in folder.glob("_*_cli.py")}
    assert {r.run.__module__ for r in cli.REPRODUCTIONS.values()} == modules
    assert list(cli.REPRODUCTIONS) == REPRODUCTIONS
    assert all(name == r.name for name, r in cli.REPRODUCTIONS.items())


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_every_reproduction_has_the_shared_options(name):
    reproduction = cli.REPRODUCTIONS[name]
    actions = {
        a.option_strings[0]: a
        for a in _all_parsers()[f"reproduce {name}"]._actions
        if a.option_strings
    }
    defaults = {
        "--mnist": None,
        "--data": None,
        "--dataset": reproduction.datasets[0],
        "--toy": False,
        "--out": f"robustsk-{name}",
        "--seed": 0,
        "--quiet": False,
    }
    if reproduction.seeds:
        defaults["--seeds"] = 3
    defaults.update({flag: False for flag, _ in reproduction.presets})
    assert {flag: actions[flag].default for flag in defaults} == defaults
    assert reproduction.presets[-1][0] == "--full"
    assert [flag for flag, _ in reproduction.presets] == [
        size.split()[0] for size, _ in reproduction.run_times[2:]
    ]  # a run time for each size
    assert ("--seeds" in actions) == reproduction.seeds


def test_the_registry_imports_nothing_heavy():
    """The command line reads every reproduction's options without importing torch; the
    reproductions' names still resolve on first use."""
    code = (
        "import sys\n"
        "import robustsk.cli, robustsk.reproduce\n"
        "print('torch' in sys.modules)\n"
        "print(robustsk.reproduce.run_aqpl.__module__, 'torch' in sys.modules)\n"
        "print(set(robustsk.reproduce.__all__) <= set(dir(robustsk.reproduce)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["False", "robustsk.reproduce._aqpl", "True", "True"]
    import robustsk.reproduce

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        robustsk.reproduce.nonsense  # noqa: B018


# ------------------------------------------------------------------ user errors
USER_ERRORS = {
    "missing folder": (["reproduce", "aqpl", "--mnist", "{tmp}/nowhere"], "is not a folder"),
    "folder without idx files": (["reproduce", "rpr", "--mnist", "{tmp}"], "lacks"),
    "unknown strategy": (["reproduce", "robust-al", "--strategies", "random,foo"], "'foo'"),
    "no strategy": (["reproduce", "robust-al", "--strategies", " , "], "no name given"),
    "zero epochs": (["demo", "--epochs", "0"], "must be a positive integer, got '0'"),
    "text for a number": (["reproduce", "budgets", "--epochs", "x"], "got 'x'"),
    "zero seeds": (["reproduce", "rpr", "--seeds", "0"], "--seeds"),
    "negative seed": (["reproduce", "aqpl", "--seed", "-1"], "--seed"),
    "negative sigma": (["reproduce", "aqpl", "--annotator-sigma", "-1"], "positive number"),
    "nan sigma": (["reproduce", "aqpl", "--table-sigma", "nan"], "positive number"),
    "sigma off the sweep": (["reproduce", "aqpl", "--table-sigma", "0.35"], "sweep's levels"),
    "bad port": (["annotate", "--port", "70000"], "port from 1 to 65535"),
    "severity": (["demo", "--severity", "9"], "invalid choice"),
    "too many distinct pixels": (["reproduce", "rpr", "--k", "900", "--distinct"], "784"),
    "more images than digits": (["reproduce", "rpr", "--n-train", "5000"], "1,497"),
    "--full without --data": (["reproduce", "budgets", "--full"], "--full needs --data"),
    "--large without --data": (["reproduce", "robust-al", "--large"], "--large needs --data"),
    "--loss-fusion without --full": (["reproduce", "budgets", "--loss-fusion"], "needs --full"),
    "negative watermark eps0": (
        ["reproduce", "budgets", "--watermark-eps0", "0.3", "-0.1"],
        "positive number, got '-0.1'",
    ),
    "--watermark-eps0 without Table 3": (
        ["reproduce", "budgets", "--tables", "1", "--watermark-eps0", "0.3"],
        "add --tables 3",
    ),
    "unknown reproduction": (["reproduce", "cifar"], "invalid choice"),
    "unknown command": (["nonsense"], "invalid choice"),
}


@pytest.fixture
def no_data(monkeypatch):
    """Reading any data set fails the test: errors must come before any data is loaded."""

    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded before the error")

    monkeypatch.setattr(cli, "_load", refuse)
    monkeypatch.setattr("robustsk.reproduce.digits_as_mnist", refuse)
    monkeypatch.setattr("robustsk.datasets.load_mnist", refuse)


@pytest.mark.parametrize("case", list(USER_ERRORS))
def test_user_error_is_one_line_and_exit_code_2(case, tmp_path, capsys, no_data, monkeypatch):
    argv, words = USER_ERRORS[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("robustsk") and "error:" in lines[0] and words in lines[0]
    assert "Traceback" not in captured.err
    assert not any(tmp_path.iterdir())  # no output folder either


def test_missing_folder_fails_before_heavy_imports(tmp_path):
    """In a fresh interpreter, a missing --mnist folder is refused before torch (or any
    data) is imported: one line on stderr, exit code 2, no traceback."""
    code = (
        "import sys\n"
        "from robustsk.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, 'torch' in sys.modules, 'robustsk.datasets' in sys.modules)\n"
    )
    for name in REPRODUCTIONS:
        proc = subprocess.run(
            [sys.executable, "-c", code, "reproduce", name, "--mnist", str(tmp_path / "nowhere")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.stdout.split() == ["2", "False", "False"], (proc.stdout, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "robustsk", "reproduce", "aqpl", "--mnist", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_mnist_folder_check_accepts_every_spelling(tmp_path):
    for i, stem in enumerate(_data.MNIST_FILES):
        dotted = stem.replace("-idx", ".idx")
        name = [stem, stem + ".gz", dotted, dotted + ".gz"][i]
        (tmp_path / name).write_bytes(b"")
    assert _data.mnist_problem(str(tmp_path)) is None
    (tmp_path / "t10k-labels.idx1-ubyte.gz").unlink()
    assert "t10k-labels-idx1-ubyte[.gz]" in _data.mnist_problem(str(tmp_path))


# ------------------------------------------------------------------ the embedded digits
def test_digits_as_mnist():
    X, y, X_test, y_test = _data.digits_as_mnist()
    assert X.shape == (_data.DIGITS_N_TRAIN, 1, 28, 28) and X.dtype == np.float32
    assert X_test.shape == (_data.DIGITS_N_TEST, 1, 28, 28)
    assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() > 0.9
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert not X[:, 0, border].any()  # a 20x20 digit in a 28x28 frame, as in MNIST
    assert np.bincount(y_test).min() >= 29  # stratified: every class in the test set
    again = _data.digits_as_mnist()
    assert np.array_equal(again[3], y_test)  # the same split for every run


def test_toy_sizes_apply_without_mnist_only():
    from robustsk.reproduce import AQPLConfig, RPRConfig

    parser = cli.build_parser()
    aqpl, rpr = cli.REPRODUCTIONS["aqpl"], cli.REPRODUCTIONS["rpr"]
    toy = aqpl.config(parser.parse_args(["reproduce", "aqpl"]))
    assert toy == AQPLConfig(**aqpl.toy_sizes)
    mnist = aqpl.config(parser.parse_args(["reproduce", "aqpl", "--mnist", "m"]))
    assert mnist == AQPLConfig()
    rounds = aqpl.config(parser.parse_args(["reproduce", "aqpl", "--rounds", "1"]))
    assert rounds.n_rounds == 1 and rounds.n_train == aqpl.toy_sizes["n_train"]
    small = rpr.config(parser.parse_args(["reproduce", "rpr", "--n-train", "100"]))
    assert small.n_train == 100 and small.max_steps == rpr.toy_sizes["max_steps"]
    assert rpr.config(parser.parse_args(["reproduce", "rpr", "--mnist", "m"])) == RPRConfig()
    for name, reproduction in cli.REPRODUCTIONS.items():  # every toy run fits the digits
        cfg = reproduction.config(parser.parse_args(["reproduce", name]))
        n_train, n_test = reproduction.data_sizes(cfg)
        pool = {"robust-al": "n_pool"}.get(name, "n_train")
        assert n_train == getattr(cfg, pool) + getattr(cfg, "n_reference", 0)
        assert n_test == cfg.n_test
        assert n_train <= _data.DIGITS_N_TRAIN and n_test <= _data.DIGITS_N_TEST
        assert all(getattr(cfg, k) == v for k, v in reproduction.toy_sizes.items())


#: The smallest run of each reproduction on the embedded digits, and a file it writes.
SMALLEST = {
    "robust-al": (["--strategies", "random", "--stages", "1", "--seeds", "1"], "summary.md"),
    "aqpl": (["--rounds", "1", "--seeds", "1"], "table1_seeds.csv"),
    "budgets": (["--n-train", "64", "--n-test", "32", "--epochs", "1"], "table3.csv"),
    "rpr": (
        "--n-train 100 --n-test 50 --n-per-class 2 --epochs 1 --retrain-epochs 1 --max-steps 5 "
        "--module MLP --seeds 1".split(),
        "summary_seeds.csv",
    ),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # tiny runs: unbalanced robust subsets
@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_reproduction_runs_on_the_embedded_digits(name, tmp_path, capsys):
    options, written = SMALLEST[name]
    out = tmp_path / "out"
    assert main(["reproduce", name, "--out", str(out), "--quiet", *options]) == 0
    err = capsys.readouterr().err
    notice = [line for line in err.splitlines() if "no --data" in line]
    assert len(notice) == 1 and "embedded scikit-learn digits" in notice[0]
    assert (out / written).stat().st_size > 0


# ------------------------------------------------------------------ environment errors
def _one_line_error(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("robustsk") and "error:" in err
    for word in words:
        assert word in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_out_folder_is_one_line_before_any_training(tmp_path, capsys, no_data):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _one_line_error(capsys, ["demo", "--out", str(locked / "demo")], ["--out", "locked"])
        _one_line_error(
            capsys, ["reproduce", "rpr", "--out", str(locked / "rpr")], ["--out", "locked"]
        )
    finally:
        locked.chmod(0o700)


def test_an_out_path_that_is_a_file_is_one_line_before_any_training(tmp_path, capsys, no_data):
    """(A file where the folder should be fails for root too.)"""
    (tmp_path / "taken").write_text("a file")
    _one_line_error(capsys, ["demo", "--out", str(tmp_path / "taken")], ["--out", "taken"])
    _one_line_error(
        capsys, ["reproduce", "aqpl", "--out", str(tmp_path / "taken" / "x")], ["--out", "taken"]
    )


def test_a_corrupt_mnist_file_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    from robustsk.reproduce._data import MNIST_FILES

    for stem in MNIST_FILES:  # four idx files whose headers are garbage
        (tmp_path / stem).write_bytes(b"\x00\x00\x08\x03" + b"\xff" * 40)
    monkeypatch.chdir(tmp_path)
    _one_line_error(
        capsys, ["reproduce", "rpr", "--mnist", str(tmp_path), "--out", "o"], ["cannot read"]
    )


def test_annotate_db_in_a_missing_folder_is_one_line_naming_it(tmp_path, capsys):
    db = tmp_path / "nowhere" / "answers.sqlite"
    _one_line_error(capsys, ["annotate", "--db", str(db)], ["--db", "nowhere"])
    (tmp_path / "not-a-db.sqlite").write_bytes(b"this is not a database" * 100)
    _one_line_error(
        capsys, ["annotate", "--db", str(tmp_path / "not-a-db.sqlite")], ["--db", "not-a-db"]
    )
