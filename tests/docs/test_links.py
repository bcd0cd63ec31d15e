"""Every relative link in the README and docs/ leads to a file of this repository (and to a heading
that exists, when it names one); no page shows a machine path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*(?:href|src)=\"([^\"]+)\"", re.I)
MACHINE_PATH = re.compile(r"(?<![\w.])(/work/|/home/\w|/Users/\w|/root/|[A-Z]:\\\\)")


def prose(text: str) -> str:
    """The page without code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    return [*LINK.findall(body), *REFERENCE_LINK.findall(body), *HTML_LINK.findall(body)]


def github_anchors(text: str) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces to dashes."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    anchors |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return anchors


def broken_links(page: Path, root: Path = REPO_ROOT) -> list[str]:
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.is_relative_to(root):
            problems.append(f"{target}: outside the repository")
        elif not destination.exists():
            problems.append(f"{target}: no such file")
        elif (
            anchor
            and destination.suffix == ".md"
            and anchor not in github_anchors(destination.read_text("utf-8"))
        ):
            problems.append(f"{target}: no heading #{anchor} in {destination.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_no_page_shows_a_machine_path(page):
    found = [line for line in page.read_text(encoding="utf-8").splitlines() if MACHINE_PATH.search(line)]
    assert found == []


def test_the_checker_catches_what_it_should(tmp_path):
    """The checker itself, on a page shaped like other people write them."""
    (tmp_path / "guide.md").write_text("# Getting started\n\n## Install (pip) — fast\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "See [the guide](guide.md#install-pip--fast), [setup](guide.md#setup), [gone](missing.md),\n"
        "[design](../../../shared/DESIGN.md), ![chart](img/chart.png), [site](https://example.com/x.md)\n"
        "and `[not a link](nowhere.md)`.\n\n```\n[also not](nowhere.md)\n```\n"
        "[ref]: ref-target.md\n",
        encoding="utf-8",
    )
    problems = broken_links(page, root=tmp_path)
    assert problems == [
        "guide.md#setup: no heading #setup in guide.md",
        "missing.md: no such file",
        "../../../shared/DESIGN.md: outside the repository",
        "img/chart.png: no such file",
        "ref-target.md: no such file",
    ]
