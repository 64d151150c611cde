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
