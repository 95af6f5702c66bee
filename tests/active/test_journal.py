"""AnswerJournal: torn tails cut and kept aside, and journals of the first format."""

import base64
import errno
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from robustsk.active import AnswerJournal, row_keys
from robustsk.active._journal import _encode


def test_journal_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = AnswerJournal(path)
    journal.append(np.ones((2, 3)), np.array(["a", "b"]))
    with open(path, "a") as f:
        f.write('{"key": "abc", "lab')  # crash mid-write
    with pytest.warns(RuntimeWarning, match="incomplete last record"):
        X, y, keys, _ = journal.load()
    assert X.shape == (2, 3) and y.tolist() == ["a", "b"]


def _torn(path, fragment=b'{"kind":"label","key":"0123'):
    with open(path, "ab") as f:
        f.write(fragment)


def test_torn_tail_is_cut_before_an_append_and_resumes_twice(tmp_path):
    """The old bug: the next answer glued onto the fragment, and the second resume failed."""
    path = tmp_path / "j.jsonl"
    with AnswerJournal(path) as journal:
        journal.append(np.zeros((2, 3)), np.array([0, 1]))
    good = path.read_bytes()
    _torn(path)
    with pytest.warns(RuntimeWarning, match=r"j\.jsonl:3: cut a torn tail of 27 bytes"):
        journal = AnswerJournal(path).open()
    journal.append(np.ones((1, 3)), np.array([2]))
    journal.close()
    assert path.read_bytes().startswith(good) and path.read_bytes().endswith(b"\n")
    (side,) = tmp_path.glob("j.jsonl.torn-*")  # the cut bytes are kept, not destroyed
    assert side.read_bytes() == b'{"kind":"label","key":"0123'
    for _ in range(2):  # resume twice: every answer, no warning
        X, y, _, _ = AnswerJournal(path).load()
        assert y.tolist() == [0, 1, 2] and X[2].tolist() == [1, 1, 1]
    # a zero-filled tail (a crash after the size grew) is torn; a complete but damaged last
    # line is not (a crash leaves a prefix, not altered bytes): an error, the file untouched
    _torn(path, b"\0" * 100)
    with pytest.warns(RuntimeWarning, match="torn tail of 100 bytes"):
        AnswerJournal(path).open().close()
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:-1]) + lines[-1].replace(b'"label":2', b'"label":7')
    for data in (damaged, damaged[:-1]):  # with and without its newline
        path.write_bytes(data)
        with pytest.raises(ValueError, match=r"j\.jsonl:3 is not a valid journal record"):
            AnswerJournal(path).open()
        with pytest.raises(ValueError, match=r"j\.jsonl:3 .*checksum does not match"):
            AnswerJournal(path).records()
        assert path.read_bytes() == data
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])  # the same line cut short: torn
    with pytest.warns(RuntimeWarning, match="torn tail of 40 bytes"):
        with AnswerJournal(path) as journal:
            journal.append(np.full((1, 3), 5.0), np.array([5]))
    assert AnswerJournal(path).load()[1].tolist() == [0, 1, 5]


def test_first_format_journal_is_still_read(tmp_path):
    """Lines written before checksums (no "kind", no "crc") load, and appends follow them."""
    path = tmp_path / "old.jsonl"
    x = np.array([0.25, 0.5], dtype=np.float32)
    old = {"key": row_keys(x[None])[0], "label": 3, "index": 7, "shape": [2], "time": "t"}
    old["x"] = base64.b64encode(x.tobytes()).decode()
    path.write_text(json.dumps(old) + "\n")
    with AnswerJournal(path) as journal:
        journal.append(np.ones((1, 2)), np.array([4]))
    X, y, _, indices = AnswerJournal(path).load()
    assert y.tolist() == [3, 4] and indices == [7, None] and X[0].tolist() == [0.25, 0.5]


# ---------------------------------------------------------------- generated damage
# What a torn write of this journal can leave: a prefix of the records it wrote, and NUL
# bytes where blocks did not reach the disk. Everything else is damage.

PRINTABLE = bytes(range(0x20, 0x7F))


def _torn_shaped(tail):
    """The spec, stated independently: an unterminated line of printable ASCII or NUL that
    starts like a record (or with NUL)."""
    head = tail.split(b"\0", 1)[0]  # what was written before the first block of NULs
    return (
        b"\n" not in tail
        and all(b == 0 or b in PRINTABLE for b in tail)
        and (head in (b"", b"{") or head.startswith(b'{"'))
    )


def _good_journal(path, seed, n):
    """A journal of ``n`` random valid records (label, ask and level kinds)."""
    rng = np.random.default_rng(seed)
    with AnswerJournal(path) as journal:
        for _ in range(n):
            kind = rng.choice(["label", "ask", "level"])
            if kind == "label":
                journal.append(rng.normal(size=(1, 3)), rng.integers(0, 5, 1))
            else:
                journal.append_records(
                    [{"kind": str(kind), "key": "k", "index": 1, "round": 1, "sigma": 0.5}]
                )
    return path.read_bytes() if path.exists() else b""


TORN = ["prefix", "prefix+zeros", "zeros", "zeros+part"]
DAMAGE = ["csv", "csv+nl", "binary", "empty lines", "json", "json+nl", "flipped", "fragment+nl"]


@st.composite
def torn_tails(draw, lines, shape):
    """A record cut short: a prefix of a line, maybe followed by NULs, or NULs only, or
    NULs then a later part of the line (blocks that reached the disk out of order)."""
    line = draw(st.sampled_from(lines)).rstrip(b"\n")
    cut = draw(st.integers(1, len(line)))
    zeros = b"\0" * draw(st.integers(1, 300))
    if shape == "prefix":
        return line[:cut]
    if shape == "prefix+zeros":
        return line[:cut] + zeros
    if shape == "zeros":
        return zeros
    return zeros + line[draw(st.integers(0, len(line) - 1)) : cut + 1]


CSV = st.lists(
    st.lists(st.text("abcxyz0123456789.-", min_size=1, max_size=6), min_size=1, max_size=4),
    min_size=1,
    max_size=4,
).map(lambda rows: "\n".join(",".join(r) for r in rows).encode())
PLAIN_JSON = st.dictionaries(
    st.sampled_from(["a", "b", "label", "time", "kind", "crc", "key"]),
    st.one_of(st.integers(), st.text(max_size=5), st.none()),
    min_size=1,
).map(lambda d: json.dumps(d).encode())


@st.composite
def damage(draw, lines, shape):
    """Something that is not a torn tail: a file that is not a journal, an empty line, a
    valid JSON line without its checksum, a damaged record, binary data, a fragment with a
    newline after it, or any of these followed by valid records."""
    if shape == "csv":
        garbage = draw(CSV)  # no newline at the end: still not a record cut short
    elif shape == "csv+nl":
        garbage = draw(CSV) + b"\n"
    elif shape == "binary":
        garbage = draw(st.binary(min_size=1, max_size=200).filter(lambda b: not _torn_shaped(b)))
    elif shape == "empty lines":
        garbage = b"\n" * draw(st.integers(1, 3))
    elif shape in ("json", "json+nl"):
        garbage = draw(PLAIN_JSON) + (b"\n" if shape == "json+nl" else b"")
    elif shape == "flipped":  # one byte of a complete record changed
        line = draw(st.sampled_from(lines))
        at = draw(st.integers(0, len(line) - 2))
        new = draw(st.sampled_from(PRINTABLE).filter(lambda b: b != line[at]))
        garbage = line[:at] + bytes([new]) + line[at + 1 :]
    else:
        line = draw(st.sampled_from(lines)).rstrip(b"\n")
        garbage = line[: draw(st.integers(1, len(line) - 1))] + b"\n"
    if draw(st.booleans()):  # valid records after it: damage in the middle
        garbage += b"".join(draw(st.lists(st.sampled_from(lines), min_size=1, max_size=3)))
    return garbage


# lines to cut and to damage: the encodings of the records a journal writes
with tempfile.TemporaryDirectory() as _d:
    SAMPLE_LINES = _good_journal(Path(_d) / "sample.jsonl", 99, 6).splitlines(keepends=True)


@pytest.mark.parametrize(
    "expected, shape", [("torn", shape) for shape in TORN] + [("damage", s) for s in DAMAGE]
)
@settings(max_examples=20, derandomize=True, deadline=None)
@given(n=st.integers(0, 4), seed=st.integers(0, 2**16), data=st.data())
def test_only_an_unterminated_last_line_is_cut_everything_else_is_refused(
    expected, shape, n, seed, data
):
    """Random valid records, then random bytes: a torn tail is cut (kept aside) and the
    records survive; anything else is a ValueError naming file:line, the file unchanged
    byte for byte, and nothing created beside it. 12 shapes of tail, 20 cases each."""
    tails = torn_tails if expected == "torn" else damage
    garbage = data.draw(tails(SAMPLE_LINES, shape), label="tail")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.jsonl"
        good = _good_journal(path, seed, n)
        path.write_bytes(good + garbage)
        before = sorted(os.listdir(d))
        records = AnswerJournal(path)
        if expected == "torn":
            assert _torn_shaped(garbage)
            with pytest.warns(RuntimeWarning, match=rf"j\.jsonl:{n + 1}: skipping an incomplete"):
                assert len(records.records()) == n
            with pytest.warns(RuntimeWarning, match=rf"j\.jsonl:{n + 1}: cut a torn tail"):
                journal = AnswerJournal(path).open()
            assert path.read_bytes() == good
            (side,) = Path(d).glob("j.jsonl.torn-*")
            assert side.read_bytes() == garbage  # kept aside, not destroyed
            journal.append(np.ones((1, 3)), np.array([7]))
            journal.close()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                again = AnswerJournal(path).records()
            assert len(again) == n + 1 and again[-1]["label"] == 7
        else:
            message = rf"j\.jsonl:{n + 1} is not a valid journal record"
            with pytest.raises(ValueError, match=message):
                AnswerJournal(path).open()
            with pytest.raises(ValueError, match=message):
                records.records()
            with pytest.raises(ValueError, match=message):  # no lock was left behind either
                AnswerJournal(path).open()
            assert path.read_bytes() == good + garbage
            assert sorted(os.listdir(d)) == before


@pytest.mark.parametrize(
    "content",
    [
        b"x,y,label\n0.1,0.2,1\n0.3,0.4,0\n",  # journal="train.csv"
        b"x,y,label",  # one line, no newline
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"\n",
        b'{"a": 1}\n',
        b'{"a": 1}',  # a whole JSON value: not a record cut short
        b'{"kind": "label", "key": "k", "label": 1}\n',  # a record without its checksum
    ],
)
def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(tmp_path, content):
    """The old bug: such a file was emptied to 0 bytes as a "torn tail", with a warning."""
    target = tmp_path / "train.csv"
    target.write_bytes(content)
    link = tmp_path / "answers.jsonl"
    link.symlink_to(target)  # a symlink to another file, too
    for path in (target, link):
        with pytest.raises(ValueError, match=r":1 is not a valid journal record.*no journal"):
            AnswerJournal(path).open()
        with pytest.raises(ValueError, match=r":1 is not a valid journal record"):
            AnswerJournal(path).append(np.zeros((1, 2)), np.array([0]))
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.jsonl", "train.csv"]


# ---------------------------------------------------------------- one file, one lock


def test_every_path_to_one_journal_is_one_lock(tmp_path, monkeypatch):
    """The old bug: the lock was keyed on the path as given, so a link took another lock."""
    real = tmp_path / "data" / "answers.jsonl"
    holder = AnswerJournal(real).open()
    holder.append(np.zeros((1, 2)), np.array([0]))
    (tmp_path / "sym.jsonl").symlink_to(real)
    (tmp_path / "linked-dir").symlink_to(tmp_path / "data")
    (tmp_path / "other").mkdir()
    os.link(real, tmp_path / "other" / "hard.jsonl")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    paths = [
        real,
        tmp_path / "sym.jsonl",
        tmp_path / "other" / "hard.jsonl",
        tmp_path / "linked-dir" / "answers.jsonl",
        Path("..") / "data" / "answers.jsonl",  # relative, through another directory
        Path("..") / "elsewhere" / ".." / "other" / "hard.jsonl",
        str(real).encode(),  # bytes
    ]
    for path in paths:
        with pytest.raises(
            RuntimeError,
            match=rf"in use by another learner \(held by pid "
            rf"{os.getpid()}; the lock is on the file .*\.jsonl itself",
        ):
            AnswerJournal(path).open()
    holder.close()
    with AnswerJournal(tmp_path / "other" / "hard.jsonl") as second:  # free again
        for path in paths:
            with pytest.raises(RuntimeError, match=rf"held by pid {os.getpid()}"):
                AnswerJournal(path).open()
        second.append(np.ones((1, 2)), np.array([1]))
    assert AnswerJournal(real).load()[1].tolist() == [0, 1]
    assert not list(tmp_path.rglob("*.lock"))  # nothing beside the journal


def test_a_link_held_in_another_process_refuses_at_once(tmp_path):
    """A process holding the journal through a hard link: the symlink and the real path are
    refused at once, naming its pid; killing it (SIGKILL) frees the lock."""
    real = tmp_path / "answers.jsonl"
    AnswerJournal(real).append(np.zeros((1, 2)), np.array([0]))
    os.link(real, tmp_path / "hard.jsonl")
    (tmp_path / "sym.jsonl").symlink_to(real)
    script = (
        "import sys\n"
        "from robustsk.active._journal import AnswerJournal\n"
        "j = AnswerJournal(sys.argv[1]).open()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "hard.jsonl")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        for path in (real, tmp_path / "sym.jsonl", tmp_path / "hard.jsonl"):
            start = time.monotonic()
            with pytest.raises(RuntimeError, match=rf"held by pid {proc.pid};"):
                AnswerJournal(path).open()
            assert time.monotonic() - start < 1.0  # at once, no waiting
    finally:
        proc.kill()
        proc.wait(10)
    with AnswerJournal(tmp_path / "sym.jsonl") as journal:
        journal.append(np.ones((1, 2)), np.array([1]))
    assert AnswerJournal(real).load()[1].tolist() == [0, 1]


# ---------------------------------------------------------------- failed writes

ERRORS = [errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EDQUOT]


class Faults:
    """Fails the next write to one descriptor after ``k`` bytes (a short write, then the
    error), or its sync, or the cut that follows."""

    def __init__(self, monkeypatch):
        self.fd, self.plan = None, None
        self.real = {name: getattr(os, name) for name in ("write", "fsync", "ftruncate")}
        for name in self.real:
            monkeypatch.setattr(os, name, getattr(self, name))

    def arm(self, fd, where, k, code, cut_fails):
        self.fd, self.plan = fd, {"where": where, "k": k, "code": code, "cut": cut_fails}

    def _error(self):
        return OSError(self.plan["code"], os.strerror(self.plan["code"]))

    def write(self, fd, data):
        plan = self.plan
        if fd != self.fd or not plan or plan["where"] != "write":
            return self.real["write"](fd, data)
        if plan["k"] > 0:  # a short write: what fitted
            n = self.real["write"](fd, bytes(data[: plan["k"]]))
            plan["k"] = 0
            return n
        plan["where"] = "done"
        raise self._error()

    def fsync(self, fd):
        if fd == self.fd and self.plan and self.plan["where"] == "fsync":
            self.plan["where"] = "done"
            raise self._error()
        return self.real["fsync"](fd)

    def ftruncate(self, fd, size):
        if fd == self.fd and self.plan and self.plan["where"] == "done" and self.plan["cut"]:
            self.plan["cut"] = False
            raise OSError(errno.EIO, "the cut fails too")
        return self.real["ftruncate"](fd, size)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.integers(1, 3),  # records in the batch
            st.sampled_from(["none", "write", "write", "fsync"]),
            st.floats(0, 1),  # where the write stops, as a fraction of the batch
            st.sampled_from(ERRORS),
            st.booleans(),  # the cut back fails too
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_failed_write_is_cut_back_and_the_next_answer_appends_cleanly(plan):
    """The old bug: a failed write left a fragment, the next answer was glued after it and
    every later resume failed. Short writes at random byte offsets, ENOSPC/EFBIG/EIO/EDQUOT
    from write or fsync, sometimes the cut failing too: the error reaches the caller, the
    file is cut back to its size before the write (at the latest before the next append),
    and a resume reads every acknowledged record exactly once."""
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        path = Path(d) / "j.jsonl"
        journal = AnswerJournal(path).open()
        faults = Faults(mp)
        acked, label, committed = [], 0, b""
        for n, where, fraction, code, cut_fails in plan + [(1, "none", 0, 0, False)]:
            labels = list(range(label, label + n))
            label += n
            batch = [{"kind": "level", "key": f"k{i}", "sigma": 0.5} for i in labels]
            size = len(b"".join(_encode({**r, "time": "t"}) for r in batch))
            if where != "none":
                faults.arm(journal._fds[0], where, int(fraction * (size - 1)), code, cut_fails)
                with pytest.raises(OSError) as info:
                    journal.append_records([{**r, "time": "t"} for r in batch])
                assert info.value.errno == code  # the failure still reaches the caller
                if not cut_fails:
                    assert path.read_bytes() == committed  # cut back at once
                faults.plan = None
                continue
            journal.append_records([{**r, "time": "t"} for r in batch])
            data = path.read_bytes()
            assert data[: len(committed)] == committed  # appended cleanly, nothing glued
            assert data[len(committed) :] == b"".join(_encode({**r, "time": "t"}) for r in batch)
            committed = data
            acked += labels
        journal.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no torn tail, no damage
            keys = [r["key"] for r in AnswerJournal(path).records()]
        assert keys == [f"k{i}" for i in acked]


def test_a_file_size_limit_in_a_subprocess_is_cut_back(tmp_path):
    """RLIMIT_FSIZE with SIGXFSZ ignored: writes stop short, then fail with EFBIG; the file
    is cut back each time and the next answer, without the limit, appends cleanly."""
    path = tmp_path / "j.jsonl"
    offsets = [0, 1, 57, 199, 200, 401, 599, 100_000]  # bytes allowed past the current end
    script = r"""
import errno, json, os, resource, signal, sys
import numpy as np
from robustsk.active._journal import AnswerJournal

path, offsets = sys.argv[1], json.loads(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
journal = AnswerJournal(path).open()
out = []
for i, extra in enumerate(offsets):
    before = os.path.getsize(path)
    resource.setrlimit(resource.RLIMIT_FSIZE, (before + extra, hard))
    try:
        journal.append(np.full((3, 8), i, np.float32), np.array([i, i, i]))
        result = "written"
    except OSError as exc:
        result = errno.errorcode[exc.errno]
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    out.append([result, before, os.path.getsize(path)])
    journal.append(np.full((1, 8), 100 + i, np.float32), np.array([100 + i]))
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), json.dumps(offsets)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    batch = out[-1][2] - out[-1][1]  # the one written in full: three records
    assert batch > max(offsets[:-1]) and out[-1][0] == "written"
    for result, before, after in out[:-1]:
        assert result == "EFBIG" and after == before  # cut back to its size before the write
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, y, _, _ = AnswerJournal(path).load()
    assert y.tolist() == [100, 101, 102, 103, 104, 105, 106, 7, 7, 7, 107]
