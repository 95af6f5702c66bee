"""AnswerJournal: torn tails cut and kept aside, and journals of the first format."""

import base64
import json

import numpy as np
import pytest

from robustsk.active import AnswerJournal, row_keys


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
    # a zero-filled tail (a crash after the size grew) and a complete but damaged last line
    _torn(path, b"\0" * 100)
    with pytest.warns(RuntimeWarning, match="torn tail of 100 bytes"):
        AnswerJournal(path).open().close()
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"label":2', b'"label":7'))
    with pytest.warns(RuntimeWarning, match="torn tail"):
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
