"""Every public object is documented, and every constructor parameter appears in its docstring."""

import inspect
import re
import subprocess
from pathlib import Path

import pytest

import robustsk.active
import robustsk.annotate
import robustsk.attacks
import robustsk.certify
import robustsk.datasets
import robustsk.estimators
import robustsk.metrics
import robustsk.nets
import robustsk.perturb
import robustsk.query
import robustsk.reproduce
import robustsk.selection

MODULES = [
    robustsk.active,
    robustsk.annotate,
    robustsk.attacks,
    robustsk.certify,
    robustsk.datasets,
    robustsk.estimators,
    robustsk.metrics,
    robustsk.nets,
    robustsk.perturb,
    robustsk.query,
    robustsk.reproduce,
    robustsk.selection,
]
PUBLIC = [
    (m.__name__, name, getattr(m, name))
    for m in MODULES
    for name in m.__all__
    if callable(getattr(m, name))
]


@pytest.mark.parametrize("module, name, obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_object_documents_its_parameters(module, name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{module}.{name} has no docstring"
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = [
        p
        for p in inspect.signature(target).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    missing = [p.name for p in params if f"{p.name} :" not in doc and f"{p.name}:" not in doc]
    assert not missing, f"{module}.{name} does not document {missing}"


def test_ci_runs_the_readme_test_command():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:]]
    test_commands = [b for b in blocks if "pytest" in b]
    assert len(test_commands) == 1 and test_commands[0] in ci
    assert any(b.endswith("robustsk demo") for b in blocks)


def test_api_reference_lists_every_public_name():
    """doc/api.rst has an entry for each name of each subpackage's ``__all__`` (aliases aside)."""
    import re
    from pathlib import Path

    import robustsk.utils

    api = (Path(__file__).resolve().parents[1] / "doc" / "api.rst").read_text()
    entries = set(re.findall(r"^   (\w+)$", api, flags=re.M))
    entries |= set(re.findall(r"^\.\. autodata:: (\w+)$", api, flags=re.M))
    missing = []
    for m in [*MODULES, robustsk.utils]:
        for name in m.__all__:
            obj = getattr(m, name)
            alias = inspect.isfunction(obj) and obj.__name__ != name and obj.__name__ in m.__all__
            if not alias and name not in entries:
                missing.append(f"{m.__name__}.{name}")
    assert not missing, f"doc/api.rst does not list {missing}"


def test_examples_page_includes_every_example():
    """doc/examples.rst publishes the source of every script in examples/ (the tested ones)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "doc" / "examples.rst").read_text()
    missing = [
        f.name
        for f in sorted((root / "examples").glob("*.py"))
        if f".. literalinclude:: ../examples/{f.name}" not in page
    ]
    assert not missing, f"doc/examples.rst does not include {missing}"


# ------------------------------------------------------------------ no machine's paths
ROOT = Path(__file__).resolve().parents[1]

#: A path that exists only on the machine that wrote it: the workspace, a home folder,
#: a temporary folder. Not preceded by a word character, so URLs do not match.
MACHINE_PATH = re.compile(
    r"(?<![\w.~$%-])(?:/work/|/home/|/Users/|/root/|/tmp/|/private/var/|/mnt/|[A-Za-z]:\\Users\\)"
)
TEXT_SUFFIXES = {".md", ".rst", ".txt", ".py", ".sh", ".cfg", ".toml", ".yml", ".yaml", ".json"}
#: Files that still hold such a path, each with the reason and what fixes it. A fixed file
#: must leave this table (test_known_machine_paths_are_still_there fails until it does).
KNOWN_MACHINE_PATHS: dict[str, str] = {}


def _published_text_files():
    """README.md and the text files of doc/, examples/ and benchmarks/ that git tracks or
    would add (every file under them when this is not a git checkout)."""
    folders = ["README.md", "doc", "examples", "benchmarks"]
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *folders],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = ["README.md"] + [
            p.relative_to(ROOT).as_posix()
            for folder in folders[1:]
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "_build" not in p.parts and "results" not in p.parts
        ]
    paths = [ROOT / name for name in listed]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name == "run")]


def _machine_paths(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    return [
        f"{path.relative_to(ROOT).as_posix()}:{text.count(chr(10), 0, m.start()) + 1}: "
        f"{text[m.start() : m.start() + 60].splitlines()[0]}"
        for m in MACHINE_PATH.finditer(text)
    ]


def test_published_text_carries_no_machine_paths():
    """README, doc/, examples/ and benchmarks/ name no absolute path of the machine that
    wrote them (/work, /home, /Users, /tmp, ...); the MNIST folder is ``PATH``."""
    files = _published_text_files()
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"README.md", "doc/benchmark_report.md", "benchmarks/run_all.py"} <= names
    found = [
        hit
        for p in files
        if p.relative_to(ROOT).as_posix() not in KNOWN_MACHINE_PATHS
        for hit in _machine_paths(p)
    ]
    assert not found, "absolute paths of a machine:\n" + "\n".join(found)


def test_known_machine_paths_are_still_there():
    for name in KNOWN_MACHINE_PATHS:
        assert _machine_paths(ROOT / name), f"{name} is fixed: remove it from KNOWN_MACHINE_PATHS"


def test_machine_path_pattern():
    hits = [
        "--mnist /work/main/../shared/data/mnist",
        "see /home/ana/mnist",
        "(/Users/bo/data)",
        "`/tmp/robustsk-site`",
        "C:\\Users\\x\\mnist",
    ]
    misses = [
        "--mnist PATH",
        "https://example.org/tmp/x",
        "../shared/data/mnist",
        "$TMPDIR/x",
        "~/data",
        "a/work/b",
    ]
    assert all(MACHINE_PATH.search(t) for t in hits)
    assert not any(MACHINE_PATH.search(t) for t in misses)


def _run_all_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_report_shows_no_absolute_mnist_path(tmp_path, monkeypatch):
    """benchmarks/run_all.py writes the MNIST folder as ``PATH`` (or relative to the
    repository when inside it), in the commands and in the benchmarks' own output."""
    run_all = _run_all_module()
    mnist = tmp_path / "data" / "mnist"
    assert run_all.display_path(str(mnist)) == "PATH"
    assert run_all.display_path(str(ROOT / "data" / "mnist")) == "data/mnist"

    def fake_run(name, mnist_arg, quick):
        cmd = ["python", str(ROOT / "benchmarks" / f"bench_{name}.py"), "--mnist", mnist_arg]
        out = f"read {mnist_arg} and {ROOT}/benchmarks/x.py\n1.0 2.0"
        return 0, out, "", 1.0, cmd

    monkeypatch.setattr(run_all, "run", fake_run)
    out = tmp_path / "report.md"
    assert run_all.main(["--mnist", str(mnist), "--only", "rpr", "--out", str(out)]) == 0
    report = out.read_text()
    assert "`python bench_rpr.py --mnist PATH`" in report and "read PATH and ./benchmarks" in report
    assert str(tmp_path) not in report and str(ROOT) not in report
    assert not MACHINE_PATH.search(report)
