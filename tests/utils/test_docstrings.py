"""robustsk's one docstring filler (``robustsk.utils._docstrings.fill_doc``)."""

from __future__ import annotations

import re

import pytest

import robustsk.metrics as M
import robustsk.query as Q
from robustsk.utils._docstrings import fill_doc


def test_fills_placeholders_nested_and_leaves_other_braces():
    @fill_doc(a="A {b}", b="B")
    def f():
        """x {a} y {0, 1} {"inf", "2"}"""

    assert f.__doc__ == 'x A B y {0, 1} {"inf", "2"}'


def test_template_replaces_the_own_docstring():
    def f():
        """ignored"""

    assert fill_doc("{s}\n    rest", s="Summary.")(f) is f
    assert f.__doc__ == "Summary.\n    rest"


def test_no_docstring_is_left_alone():
    def f():
        pass

    assert fill_doc(a="A")(f).__doc__ is None


def test_unknown_placeholder_fails_at_decoration():
    def f():
        """{pool} {typo}"""

    with pytest.raises(KeyError, match=r"\{typo\} has no text"):
        fill_doc(pool="P")(f)


def test_self_containing_part_is_refused():
    def f():
        """{a}"""

    with pytest.raises(ValueError, match=r"\{a\} contains itself"):
        fill_doc(a="x {a}")(f)


@pytest.mark.parametrize(
    "func",
    [
        Q.max_entropy,
        Q.bald,
        Q.dre,
        Q.noise_entropy,
        Q.noise_uncertainty,
        Q.random_sampling,
        M.rpr_steps,
        M.rpr_score,
        M.adversarial_accuracy,
    ],
    ids=lambda f: f.__name__,
)
def test_library_docstrings_are_filled(func):
    doc = func.__doc__
    assert not re.findall(r"\{[A-Za-z_]\w*\}", doc), doc
    assert "\n    Parameters\n    ----------\n" in doc
    assert "\n    Returns\n    -------\n" in doc
