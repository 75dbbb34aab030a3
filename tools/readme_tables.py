"""Print the docs' data-source, model-kind and prior tables, generated from the registries.

    python tools/readme_tables.py           # every table, each between its marker comments
    python tools/readme_tables.py --write   # replace the marked tables in the docs

Each table sits in one page of docs/ (TABLE_DOCS says which) between `<!-- NAME -->` and
`<!-- /NAME -->`: sources-table in docs/data.md, models-table and priors-table in
docs/models.md. tests/test_readme_tables.py fails when they differ from what this produces.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _cell(text: str) -> str:
    """Text for a table cell: a | would end the cell (q(z|x))."""
    return text.replace("|", "\\|")


def _classes(names: tuple[str, ...]) -> str:
    return "0–9" if names == tuple(str(i) for i in range(10)) else ", ".join(names)


def sources_table() -> str:
    """The named sources, then the folder formats `--data-dir` reads, as a markdown table."""
    from latent_explorer.training.data.sources import list_folder_formats, list_sources

    default = _default_source()
    rows = ["| name | what | classes |", "|---|---|---|"]
    for s in list_sources():
        name = f"`{s.name}`" + (" (default)" if s.name == default else "")
        rows.append(f"| {name} | {_cell(s.description)} | {_cell(_classes(s.class_names))} |")
    for f in list_folder_formats():
        rows.append(f"| a folder (`--data-dir DIR`) | {_cell(f.description)} | {_cell(f.classes)} |")
    return "\n".join(rows)


def models_table() -> str:
    """The model kinds as a markdown table."""
    from latent_explorer.models.registry import list_kinds

    yes = {True: "yes", False: "no"}
    rows = ["| `--model` | shown as | what | β·KL term | class label | engines |",
            "|---|---|---|---|---|---|"]
    for k in list_kinds():
        rows.append(f"| `{k.name}` | {k.label} | {_cell(k.description)} | {yes[k.variational]} | "
                    f"{yes[k.conditional]} | {', '.join(k.engines)} |")
    return "\n".join(rows)


def priors_table() -> str:
    """The priors as a markdown table."""
    from latent_explorer.models.priors import list_priors

    yes = {True: "yes", False: "no"}
    rows = ["| `--prior` | shown as | what | analytic KL (fast and stacked steps) | CVAE |",
            "|---|---|---|---|---|"]
    for p in list_priors():
        rows.append(f"| `{p.name}` | {p.label} | {_cell(p.description)} | {yes[p.closed_form]} | "
                    f"{yes[p.conditional]} |")
    return "\n".join(rows)


def _default_source() -> str:
    import dataclasses

    from latent_explorer.training.engine.loop import TrainConfig

    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}["dataset"]


TABLES = {"sources-table": sources_table, "models-table": models_table,
          "priors-table": priors_table}

# The page of docs/ that holds each table.
TABLE_DOCS = {"sources-table": DOCS / "data.md", "models-table": DOCS / "models.md",
              "priors-table": DOCS / "models.md"}


def block(name: str, table: str) -> str:
    return f"<!-- {name} -->\n{table}\n<!-- /{name} -->"


def doc_table(text: str, name: str) -> str | None:
    """The table between the `name` markers of a page's text (None without the markers)."""
    tag = re.escape(name)
    m = re.search(rf"<!-- {tag} -->\n(.*?)\n<!-- /{tag} -->", text, re.DOTALL)
    return m.group(1) if m else None


def write(docs: dict[str, Path] | None = None) -> list[str]:
    """Replace each marked table in its page (`docs`: table name -> page, TABLE_DOCS by
    default) with the generated one; returns the names of the tables that changed."""
    docs = TABLE_DOCS if docs is None else docs
    changed = []
    for page in dict.fromkeys(docs.values()):  # each page once, in order
        text = page.read_text(encoding="utf-8")
        before = text
        for name in (n for n in TABLES if docs.get(n) == page):
            old = doc_table(text, name)
            if old is None:
                raise SystemExit(f"{page}: no <!-- {name} --> ... <!-- /{name} --> markers")
            new = TABLES[name]()
            if old != new:
                text = text.replace(block(name, old), block(name, new))
                changed.append(name)
        if text != before:
            page.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="update the tables in docs/")
    args = p.parse_args(argv)
    if args.write:
        changed = write()
        print(f"docs: updated {', '.join(changed)}" if changed else "docs: up to date")
        return 0
    print("\n\n".join(block(name, make()) for name, make in TABLES.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
