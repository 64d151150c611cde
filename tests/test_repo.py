"""The repository stands alone: a fresh clone documents and tests itself with nothing beside it."""

import os
import re

from conftest import DEMO_DATA, ROOT


def test_readme_links_stay_inside_the_repository():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "../" not in text, "the README points outside the repository"
    links = re.findall(r"\]\(([^)#]+)\)", text)
    local = [link for link in links if "://" not in link]
    assert "docs/bnb-model.md" in local
    for link in local:
        assert os.path.exists(os.path.join(ROOT, link)), link


def test_tests_read_only_shipped_data():
    """Every absolute path the test helpers define lies inside the repository."""
    import conftest

    paths = {name: value for name, value in vars(conftest).items() if isinstance(value, str) and os.path.isabs(value)}
    assert "DEMO_DATA" in paths
    outside = {name: p for name, p in paths.items() if os.path.commonpath([ROOT, p]) != ROOT}
    assert not outside, outside
    for split in ("train", "valid", "test"):
        for lang in ("es", "en"):
            assert os.path.isfile(os.path.join(DEMO_DATA, f"{split}.{lang}"))


def _github_anchor(heading):
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # '# comment' lines inside code blocks are no headings
    return {_github_anchor(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)}


def test_every_local_markdown_link_resolves():
    """Links in README.md and docs/*.md point at files (and headings) that exist, relative to the page."""
    import glob

    pages = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    assert len(pages) > 2, pages
    broken = []
    for page in pages:
        text = open(page, encoding="utf-8").read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            where = f"{os.path.relpath(page, ROOT)}: {target}"
            if os.path.commonpath([ROOT, resolved]) != ROOT:
                broken.append(where + " (outside the repository)")
            elif not os.path.exists(resolved):
                broken.append(where)
            elif anchor and resolved.endswith(".md") and anchor not in _anchors(resolved):
                broken.append(where + " (no such heading)")
    assert not broken, broken


def test_readme_stays_short():
    """The README is the quick start, the tour and the contents; topics live in docs/ pages."""
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines: move a topic into a docs/ page"
