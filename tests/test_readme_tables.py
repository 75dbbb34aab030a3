"""The README's data-source, model-kind and prior tables are the ones the registries produce."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "tools" / "readme_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["sources-table", "models-table", "priors-table"])
def test_readme_table_matches_the_registry(name):
    tool = _tool()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = tool.readme_table(text, name)
    assert found is not None, f"README.md lacks the <!-- {name} --> ... <!-- /{name} --> markers"
    assert found == tool.TABLES[name](), (
        f"README.md's {name} is out of date: run python tools/readme_tables.py --write")


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


def test_write_updates_a_stale_readme(tmp_path):
    tool = _tool()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n" + tool.block("sources-table", "| old |") + "\n\n"
                      + tool.block("models-table", tool.models_table()) + "\n\n"
                      + tool.block("priors-table", tool.priors_table()) + "\n", encoding="utf-8")
    assert tool.write(readme) == ["sources-table"]
    assert tool.readme_table(readme.read_text(encoding="utf-8"), "sources-table") == \
        tool.sources_table()
    assert tool.write(readme) == []
