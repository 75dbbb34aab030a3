"""The README and docs/ stay true: the CLI reference is the parsers' own help, every relative link
lands on a file (and heading) that exists, and the README stays a short front page."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _tool():
    path = ROOT / "tools" / "cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (links there are not links)."""
    text = FENCE.sub("", text)
    return CODE_SPAN.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces -> -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown page, duplicates numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for m in HEADING.finditer(FENCE.sub("", text)):
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(text: str) -> list[str]:
    prose = _prose(text)
    return [m.group(1) for m in LINK.finditer(prose)] + REFERENCE.findall(prose)


def test_the_cli_reference_is_generated_from_the_parsers():
    tool = _tool()
    found = tool.current((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    assert found is not None, ("docs/cli.md lacks the <!-- cli-reference --> ... "
                               "<!-- /cli-reference --> markers")
    assert found == tool.reference(), (
        "docs/cli.md's CLI reference is out of date: run python tools/cli_reference.py --write")


def test_the_cli_reference_covers_every_command():
    from latent_explorer.training.cli.commands import COMMANDS

    text = _tool().reference()
    for name in COMMANDS:
        assert f"### `latent-explorer {name}`" in text
        assert f"usage: latent-explorer {name} " in text


def test_the_cli_reference_does_not_depend_on_the_terminal(monkeypatch):
    tool = _tool()
    monkeypatch.setenv("COLUMNS", "100")
    wide = tool.reference()
    monkeypatch.setenv("COLUMNS", "40")
    assert tool.reference() == wide
    assert max(len(line) for line in wide.splitlines() if not line.startswith("<!--")) <= 100


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_lands(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif (anchor and file.suffix == ".md"
              and anchor not in anchors(file.read_text(encoding="utf-8"))):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_the_link_checker_sees_links_and_anchors():
    assert links("see [a](docs/a.md#x), ![s](s.png) and `[not](a link)`\n```\n[no](b.md)\n```\n") \
        == ["docs/a.md#x", "s.png"]
    assert anchors("# Title\n## Conditional (CVAE)\n## `map`\n## Qt's system libraries\n## map\n") \
        == {"title", "conditional-cvae", "map", "qts-system-libraries", "map-1"}


def test_the_readme_links_every_docs_page():
    targets = {(README.parent / t.partition("#")[0]).resolve() for t in links(
        README.read_text(encoding="utf-8")) if t.partition("#")[0]}
    missing = [p.relative_to(ROOT).as_posix() for p in DOCS if p.resolve() not in targets]
    assert not missing, f"README.md links no page {missing}: add it to its Documentation list"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 200, (f"README.md has {len(lines)} lines (at most 200): move details "
                               "into docs/")
    first = FENCE.search(text)
    assert first is not None, "README.md has no code block"
    commands = [line.split("#")[0].strip() for line in first.group(0).splitlines()[1:-1]]
    commands = [c for c in commands if c]
    assert commands[:2] == ["make run", "make test"], (
        f"README.md's first code block must start with `make run` and `make test`, not {commands}")


def test_the_docs_name_modules_by_their_package_names():
    folders = ("models", "training", "explorer")
    modules = sorted({f"{d}.{p.stem}" for d in folders for p in (ROOT / d).iterdir()
                      if p.suffix == ".py" or (p / "__init__.py").exists()} - {
                      f"{d}.__init__" for d in folders})
    old = re.compile(r"(?<![\w./-])(?:" + "|".join(map(re.escape, modules)) + r")\b(?![/-])")
    found = {f"{p.relative_to(ROOT)}: {m.group(0)}"
             for p in PAGES for m in old.finditer(p.read_text(encoding="utf-8"))}
    assert not found, f"write latent_explorer.* module names, not {sorted(found)}"
