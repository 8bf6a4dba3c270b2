"""docs/stories.md cannot rot: it lists the 32 features of the five help-center stories, and
every test it names must exist (file and function) and every URL pattern it names must resolve
in the URLconf (issue 23)."""

import ast
import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parent.parent
STORIES = ROOT / "docs" / "stories.md"

# What a URL pattern's placeholders stand for when it is resolved.
PLACEHOLDERS = {
    "slug": "nordlys",
    "code": "pro-team",
    "number": "U2B6TKRC-0001",
    "token": "a1b2c3",
}
ROW = re.compile(r"^\| (\d+) \|(.+)\|$")
TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
URL = re.compile(r"`(/[^`\s]*)`")


def _rows() -> list[tuple[int, str]]:
    return [
        (int(match[1]), match[2]) for line in STORIES.read_text().splitlines() if (match := ROW.match(line))
    ]


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _concrete(pattern: str) -> str:
    """A path the pattern matches: placeholders filled in, query and fragment dropped."""
    path = re.split(r"[?#]", pattern)[0]

    def fill(match: re.Match) -> str:
        converter, _, name = match[1].rpartition(":")
        return "1" if converter == "int" else PLACEHOLDERS[name]

    return re.sub(r"<([\w:]+)>", fill, path)


def test_the_32_features_are_numbered_once_each_with_a_role_a_way_in_and_tests():
    rows = _rows()
    assert [number for number, _ in rows] == list(range(1, 33))
    for number, row in rows:
        cells = [cell.strip() for cell in row.split("|")]
        assert len(cells) == 4 and all(cells), (number, cells)
        assert URL.search(cells[2]), f"feature {number} names no page"
        assert TEST.search(cells[3]), f"feature {number} names no test"


def test_every_test_named_exists():
    named = TEST.findall(STORIES.read_text())
    assert len(named) >= 32
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (ROOT / path).is_file() or name not in _functions(ROOT / path)
    ]
    assert missing == []


@pytest.mark.parametrize("pattern", sorted(set(URL.findall(STORIES.read_text()))))
def test_every_url_pattern_named_resolves(pattern):
    try:
        resolve(_concrete(pattern))
    except Resolver404:
        pytest.fail(f"{pattern} does not resolve")


def test_a_wrong_reference_is_caught():
    """The checks can fail: a test that is not there and a page that is not there."""
    assert "test_nothing_like_this" not in _functions(ROOT / "tests/dashboard/test_browser.py")
    with pytest.raises(Resolver404):
        resolve(_concrete("/o/<slug>/no-such-page/"))
