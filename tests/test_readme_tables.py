"""The docs' data-source, model-kind and prior tables are the ones the registries produce.

The tables live in docs/ (tools/readme_tables.py's TABLE_DOCS: sources-table in docs/data.md,
models-table and priors-table in docs/models.md), each between its marker comments.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    path = ROOT / "tools" / "readme_tables.py"
    spec = importlib.util.spec_from_file_location("readme_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["sources-table", "models-table", "priors-table"])
def test_docs_table_matches_the_registry(name):
    tool = _tool()
    page = tool.TABLE_DOCS[name]
    rel = page.relative_to(ROOT)
    found = tool.doc_table(page.read_text(encoding="utf-8"), name)
    assert found is not None, f"{rel} lacks the <!-- {name} --> ... <!-- /{name} --> markers"
    assert found == tool.TABLES[name](), (
        f"{rel}'s {name} is out of date: run python tools/readme_tables.py --write")


def test_the_tables_live_in_the_docs_not_the_readme():
    tool = _tool()
    assert set(tool.TABLE_DOCS) == set(tool.TABLES)
    assert all(page.parent == ROOT / "docs" for page in tool.TABLE_DOCS.values())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in tool.TABLES:
        assert tool.doc_table(readme, name) is None, f"README.md still holds {name}"


def test_every_source_and_kind_has_a_row():
    from latent_explorer.models.registry import list_kinds
    from latent_explorer.training.data.sources import list_folder_formats, list_sources

    tool = _tool()
    sources = tool.sources_table().splitlines()[2:]
    assert len(sources) == len(list_sources()) + len(list_folder_formats())
    for s, row in zip(list_sources(), sources):
        assert row.startswith(f"| `{s.name}`") and row.count(" | ") == 2  # no stray | in a cell
    models = tool.models_table().splitlines()[2:]
    assert [r.split(" | ")[0] for r in models] == [f"| `{k.name}`" for k in list_kinds()]
    assert all(r.replace("\\|", "").count("|") == 7 for r in models)


def test_write_updates_a_stale_page_and_leaves_the_others(tmp_path):
    tool = _tool()
    data, models = tmp_path / "data.md", tmp_path / "models.md"
    data.write_text("# data\n\n" + tool.block("sources-table", "| old |") + "\n", encoding="utf-8")
    models_text = ("# models\n\n" + tool.block("models-table", tool.models_table()) + "\n\ntext\n\n"
                   + tool.block("priors-table", tool.priors_table()) + "\n")
    models.write_text(models_text, encoding="utf-8")
    pages = {"sources-table": data, "models-table": models, "priors-table": models}
    assert tool.write(pages) == ["sources-table"]
    assert tool.doc_table(data.read_text(encoding="utf-8"), "sources-table") == tool.sources_table()
    assert models.read_text(encoding="utf-8") == models_text
    assert tool.write(pages) == []


def test_write_refuses_a_page_without_the_markers(tmp_path):
    tool = _tool()
    page = tmp_path / "data.md"
    page.write_text("# data\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="sources-table"):
        tool.write({"sources-table": page})
