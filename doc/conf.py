"""Sphinx configuration of robustsk's documentation site.

Build it with ``python -m sphinx -W --keep-going -b html doc doc/_build/html``
(CI does, and fails on any warning).
"""

from __future__ import annotations

import robustsk

project = "robustsk"
author = "the robustsk developers"
copyright = "2026, the robustsk developers"
release = robustsk.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/*.examples"]
templates_path = ["_templates"]

# API reference: one page per public object, generated from the docstrings.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc sections already give the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# Markdown user guide: GitHub-style heading anchors, so links like page.md#section resolve.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

intersphinx_mapping: dict[str, tuple[str, None]] = {}  # no network at build time

html_theme = "alabaster"
html_title = f"robustsk {release}"
html_static_path: list[str] = []


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_*_request``)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
