import csv
import subprocess
import sys

import pytest

from robustsk.cli import main


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


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--epochs", "0"])
    assert "must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "robustsk", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out
