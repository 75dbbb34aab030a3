"""The one generic `Registry`, and that every registry of the project is one."""

from __future__ import annotations

import pytest

from latent_explorer.models.registries import Registry, resolve


def test_a_registry_keeps_entries_in_order_and_refuses_a_name_twice():
    r: Registry[int] = Registry("thing")
    assert r.register("b", 2) == 2
    r.register("a", 1)
    assert r.names() == ("b", "a") and r.list() == [2, 1] and len(r) == 2
    assert r.get("a") == 1 and r["b"] == 2 and "a" in r and "c" not in r
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        r.register("a", 3)
    assert r.get("a") == 1  # a refused entry changes nothing


def test_an_unknown_name_names_the_choices():
    r: Registry[int] = Registry("model kind")
    r.register("ae", 0)
    r.register("vae", 1)
    with pytest.raises(ValueError, match=r"unknown model kind 'gan'; choose one of ae, vae"):
        r.get("gan")
    with pytest.raises(ValueError, match="unknown model kind"):
        r.get(["not", "hashable"])  # a bad config file
    assert ["not", "hashable"] not in r
    assert r.get("gan", None) is None  # with a default it is Mapping.get
    with pytest.raises(KeyError):
        r["gan"]


def test_monkeypatch_adds_an_entry_for_one_test_only():
    r: Registry[int] = Registry("thing")
    r.register("a", 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(r, "b", 2)
        mp.setitem(r, "a", 10)
        assert r.names() == ("a", "b") and r.get("a") == 10
    assert r.names() == ("a",) and r.get("a") == 1


def test_resolve_imports_a_module_attribute_path():
    from latent_explorer.models.registry import get_kind

    assert resolve("latent_explorer.models.registry:get_kind") is get_kind
    assert resolve("latent_explorer.models.registry:MODEL_KINDS.names")() == ("ae", "vae", "cvae")
    for bad in ("latent_explorer.models.registry", ":get_kind", "models.registry:"):
        with pytest.raises(ValueError, match="module:attribute"):
            resolve(bad)
    with pytest.raises(ModuleNotFoundError):
        resolve("models.nothing_here:x")


def test_every_registry_is_a_registry():
    import latent_explorer.explorer.panels as panels
    import latent_explorer.models.registry as kinds
    import latent_explorer.training.cli.commands as commands
    import latent_explorer.training.data.sources as sources

    assert isinstance(kinds.MODEL_KINDS, Registry)
    assert kinds.kind_names() == kinds.MODEL_KINDS.names()
    assert isinstance(sources.DATA_SOURCES, Registry)
    assert isinstance(sources.FOLDER_FORMATS, Registry)
    assert sources.source_names() == sources.DATA_SOURCES.names()
    assert [f.name for f in sources.list_folder_formats()] == ["idx", "celeba", "image-folder"]
    assert isinstance(commands.COMMANDS, Registry) and isinstance(panels.PANELS, Registry)
    assert commands.COMMANDS.names() == ("train", "eval", "sample", "sweep", "encode",
                                         "timeline", "map", "runs", "vector", "restyle")
    for registry, register, entry in [
        (kinds.MODEL_KINDS, kinds.register_kind, kinds.get_kind("ae")),
        (sources.DATA_SOURCES, sources.register_source, sources.get_source("mnist")),
        (sources.FOLDER_FORMATS, sources.register_folder_format, sources.list_folder_formats()[0]),
    ]:
        with pytest.raises(ValueError, match="already registered"):
            register(entry)
        assert registry.list().count(entry) == 1
    with pytest.raises(ValueError, match="command 'train' is already registered"):
        commands.register_command("train", "again", "latent_explorer.training.cli.commands.train")
    with pytest.raises(ValueError, match="panel 'draw' is already registered"):
        panels.register_panel("draw", "latent_explorer.explorer.panels.draw:DrawPanel")
    with pytest.raises(ValueError, match="unknown command 'fly'; choose one of train, eval"):
        commands.load_command("fly")


def test_a_new_panel_is_one_entry(qtbot, monkeypatch):
    import latent_explorer.explorer.panels as panels

    monkeypatch.setitem(panels.PANELS, "plain", "latent_explorer.explorer.panels.base:Panel")
    made = panels.create_panels()
    for p in made:
        qtbot.addWidget(p)
    assert len(made) == len(panels.PANELS) == 10
    assert type(made[-1]) is panels.Panel  # the new entry, last: tabs follow registration order
