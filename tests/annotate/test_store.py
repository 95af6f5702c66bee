"""QueryStore: durable, and resumed after a restart."""

import numpy as np
import pytest

from robustsk.annotate import QueryStore


def test_store_is_durable_and_resumes(tmp_path):
    db = tmp_path / "a.sqlite"
    store = QueryStore(db)
    q1 = store.add(5, np.zeros((1, 2, 2)), 3, [0.0, 0.1], 0.1, 1)
    q2 = store.add(6, np.ones((1, 2, 2)), 4, [0.0, 0.1], 0.0, 2)
    store.answer(q1, 0.1)
    store.close()
    again = QueryStore(db)  # a restart
    assert again.get(q1)["answer"] == 0.1 and again.next_open() == q2
    assert again.add(5, np.zeros((1, 2, 2)), 3, [0.0, 0.1], 0.1, 1) == q1  # same query
    assert again.progress() == {"answered": 1, "total": 2}
    with pytest.raises(RuntimeError, match="already answered"):
        again.answer(q1, 0.0)
    with pytest.raises(ValueError, match="not on query"):
        again.answer(q2, 0.05)
    with pytest.raises(KeyError):
        again.answer(999, 0.0)
