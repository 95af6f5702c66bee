"""Every relative link and anchor in the Markdown resolves as a repository page renders it.

The Sphinx build resolves anchors its own way; a reader on the repository's web page
follows GitHub's: a heading's anchor is its text in lower case, without the characters
that are not letters, digits, ``_``, ``-`` or spaces, with each space a ``-``, and
``-1``, ``-2``, ... for repeats. Links are checked against those anchors, and every
path a page names must be a file of the repository.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "doc").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)


def github_slug(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading)  # code spans keep their text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = github_slug(heading.group(1))
            n = seen.get(slug, 0)
            found.add(slug if n == 0 else f"{slug}-{n}")
            seen[slug] = n + 1
        found.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', line))
    return found


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"^[a-z]+:", t)]


def test_the_slug_follows_github():
    assert github_slug("The paper's sizes (`--full`), 3 seeds") == "the-papers-sizes---full-3-seeds"
    assert github_slug("Bounds (`robustsk.certify`)") == "bounds-robustskcertify"
    assert github_slug("A data file cannot run code") == "a-data-file-cannot-run-code"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        dest = page if not path else (page.parent / path).resolve()
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading with that anchor in {dest.name})")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_pages_name_no_file_outside_the_repository():
    """A citation like `papers/x.md` points at a file a reader of the repository lacks."""
    for page in PAGES:
        for name in re.findall(
            r"`([\w./-]+\.(?:md|pdf|py|txt))`", page.read_text(encoding="utf-8")
        ):
            if "/" in name and not name.startswith(("http", "/", "~")):
                places = (ROOT, page.parent, ROOT / "robustsk")  # module paths as packages
                assert any((where / name).exists() for where in places), (page.name, name)
