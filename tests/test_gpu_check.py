"""The one-call GPU check runs end to end (``--dry-run``: the same steps on the CPU, toy sizes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_writes_a_report_with_every_step(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("OUT", None)
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = (tmp_path / "gpu_check.md").read_text()
    assert proc.returncode == 0, proc.stdout + proc.stderr + report
    benches = sorted(p.stem[len("bench_") :] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    steps = ["gpu-tests"] + [f"bench-{name}" for name in benches]
    steps += [f"reproduce-{name}" for name in ("aqpl", "robust-al", "budgets", "rpr")]
    steps += [f"reproduce-{name}-cifar10" for name in ("robust-al", "aqpl", "budgets")]
    for step in steps:
        assert f"## {step}\n" in report
    assert report.count(": exit 0, ") == len(steps)
    assert "failed or stopped: none" in report
    # the reproduction slices wrote their tables and figures
    assert any((tmp_path / "reproduce-budgets").iterdir())
    assert (tmp_path / "reproduce-budgets-cifar10" / "table2.csv").is_file()
    assert (
        "VGG16 (width_factor=0.0625)"
        in (tmp_path / "reproduce-robust-al-cifar10" / "summary.md").read_text()
    )


def test_gpu_check_refuses_to_run_without_a_gpu_unless_dry_run(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr
