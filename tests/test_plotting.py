"""Every figure robustsk writes is drawn off pyplot: no backend is set, nothing to close."""

import re
import subprocess
import sys
from pathlib import Path

import robustsk

PACKAGE = Path(robustsk.__file__).parent


def test_a_figure_is_drawn_without_pyplot_or_a_backend(tmp_path):
    code = (
        "import sys\n"
        "import matplotlib\n"
        "backend = matplotlib.rcParams._get_backend_or_none()\n"
        "from robustsk.reproduce._plots import subplots\n"
        "fig, axes = subplots(1, 2, figsize=(4, 2), squeeze=False)\n"
        "axes[0, 1].plot([0, 1], [1, 0], label='line')\n"
        "axes[0, 1].legend()\n"
        "fig.tight_layout()\n"
        "fig.savefig(sys.argv[1], dpi=50)\n"
        "print(axes.shape, fig.get_size_inches().tolist())\n"
        "print('matplotlib.pyplot' in sys.modules, matplotlib.rcParams._get_backend_or_none() "
        "== backend)\n"
    )
    png = tmp_path / "f.png"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(png)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.splitlines() == ["(1, 2) [4.0, 2.0]", "False True"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_module_sets_a_backend_or_draws_through_pyplot():
    """One way to draw a figure (``robustsk.reproduce._plots.subplots``); pyplot only where a
    user asks for an Axes (``plot_rpr_curve`` without ``ax``), and no ``matplotlib.use``
    outside a docstring's example."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            where = f"{path.relative_to(PACKAGE)}:{number}"
            if re.search(r"matplotlib\.use\(", code) and ">>>" not in code:
                offenders.append(where)
            if re.search(r"import matplotlib\.pyplot|from matplotlib import pyplot", code) and (
                path.name != "_rpr_curve.py"
            ):
                offenders.append(where)
    assert not offenders, offenders
