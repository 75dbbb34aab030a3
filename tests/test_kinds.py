"""The model-kind registry: its entries, what reads it, and that a new kind is one entry."""

from __future__ import annotations

import pytest
import torch

from latent_explorer import models
import latent_explorer.models.autoencoders as autoencoders
import latent_explorer.models.registry as registry
from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.registry import ModelKind, get_kind, kind_names, list_kinds, register_kind
from latent_explorer.training.engine.loop import TrainConfig, Trainer


def test_the_three_kinds():
    assert kind_names() == ("ae", "vae", "cvae")
    assert [k.label for k in list_kinds()] == ["AE", "VAE", "CVAE"]
    assert [(k.variational, k.conditional) for k in list_kinds()] == \
        [(False, False), (True, False), (True, True)]
    for k in list_kinds():
        assert get_kind(k.name) is k
        assert k.description and "\n" not in k.description
        assert set(k.engines) == {"fast", "autograd"}
    assert models.KINDS == autoencoders.KINDS == kind_names()  # the old name still works


def test_unknown_and_duplicate_kinds_are_refused():
    with pytest.raises(ValueError) as e:
        get_kind("gan")
    assert "gan" in str(e.value) and "ae, vae, cvae" in str(e.value)
    with pytest.raises(ValueError, match="already registered"):
        register_kind(get_kind("ae"))
    with pytest.raises(ValueError, match="engines"):
        ModelKind("x", "X", "bad", False, False, engines=("jax",))
    with pytest.raises(ValueError, match="unknown model kind"):
        ModelConfig(kind="gan")
    assert TrainConfig(kind="vae").problems() == []
    with pytest.raises(ValueError, match="choose ae, vae or cvae"):
        TrainConfig(kind="gan")


@pytest.mark.parametrize("name", ["ae", "vae", "cvae"])
def test_model_config_reads_the_registry(name):
    cfg = ModelConfig(kind=name)
    assert cfg.model_kind is get_kind(name)
    assert cfg.is_variational == get_kind(name).variational
    assert cfg.is_conditional == get_kind(name).conditional


def test_a_new_kind_is_one_entry(monkeypatch, small_dataset):
    """A conditional plain auto-encoder, registered once: the loop, the model and the CLI take it."""
    from latent_explorer.training.cli.main import build_parser

    cae = ModelKind("cae", "CAE", "a conditional plain auto-encoder", variational=False,
                    conditional=True)
    monkeypatch.setitem(registry.MODEL_KINDS, "cae", cae)
    assert "cae" in autoencoders.KINDS
    model = build_model(ModelConfig(kind="cae", nz=4, hidden=(16,)))
    assert model.encoder[0].in_features == 784 + 10 and model.encoder[-1].out_features == 4
    cfg = TrainConfig(kind="cae", nz=4, hidden=(16,), epochs=1, device="cpu", beta=0.5)
    assert cfg.model_config().beta == 0.0  # not variational: no KL weight
    result = Trainer(cfg, small_dataset).run()
    assert result.state == "finished", result.error
    assert result.metrics.neg_elbo is None
    assert build_parser().parse_args(["train", "--model", "cae", "--out", "x"]).model == "cae"


def test_a_kind_only_autograd_can_train(monkeypatch, small_dataset):
    slow = ModelKind("slowvae", "SlowVAE", "a VAE without the fast step", variational=True,
                     conditional=False, engines=("autograd",))
    monkeypatch.setitem(registry.MODEL_KINDS, "slowvae", slow)
    trainer = Trainer(TrainConfig(kind="slowvae", nz=4, hidden=(16,), epochs=1, device="cpu"),
                      small_dataset)
    assert trainer.run().state == "finished"
    assert trainer.engine == "autograd"
    fast_only = ModelKind("fastae", "FastAE", "no autograd", False, False, engines=("fast",))
    monkeypatch.setitem(registry.MODEL_KINDS, "fastae", fast_only)
    with pytest.raises(ValueError, match="autograd engine cannot train a FastAE"):
        TrainConfig(kind="fastae", engine="autograd")


class _Wider(autoencoders.LatentModel):
    """Another architecture: the MLP with an extra hidden layer, built by its kind's factory."""

    def __init__(self, config: ModelConfig, generator=None) -> None:
        super().__init__(ModelConfig(**{**config.to_dict(), "hidden": (*config.hidden, 8)}),
                         generator)
        self.config = config


def test_a_kind_builds_its_own_model(monkeypatch, small_dataset):
    """build_model dispatches through the kind: a new architecture is one registry entry."""
    calls = []

    def build(config, generator):
        calls.append((config.kind, generator))
        return _Wider(config, generator)

    wide = ModelKind("wide", "Wide", "a VAE one layer deeper", variational=True,
                     conditional=False, engines=("autograd",), factory=build)
    monkeypatch.setitem(registry.MODEL_KINDS, "wide", wide)
    gen = torch.Generator().manual_seed(0)
    model = build_model(ModelConfig(kind="wide", nz=4, hidden=(16,)), gen)
    assert type(model) is _Wider and calls == [("wide", gen)]
    assert [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)] == [16, 8, 8]
    result = Trainer(TrainConfig(kind="wide", nz=4, hidden=(16,), epochs=1, device="cpu",
                                 engine="autograd"), small_dataset).run()
    assert result.state == "finished", result.error
    assert type(result.model) is _Wider and result.metrics.neg_elbo is not None


def test_the_built_in_kinds_build_the_mlp_from_a_lazy_path():
    for kind in list_kinds():
        assert kind.factory == registry.MLP == "latent_explorer.models.autoencoders:LatentModel"
        model = kind.build(ModelConfig(kind=kind.name, nz=3, hidden=(8,)))
        assert type(model) is autoencoders.LatentModel and model.config.kind == kind.name


@pytest.mark.parametrize("name", ["ae", "vae", "cvae"])
def test_a_run_asks_its_kind(name):
    from latent_explorer.training.record.run import Run

    kind = get_kind(name)
    run = Run("r", TrainConfig(kind=name, beta=0.5, nz=4))
    assert run.model_kind is kind
    assert (run.is_variational, run.is_conditional) == (kind.variational, kind.conditional)
    assert run.beta == (0.5 if kind.variational else 0.0)
    assert run.default_name().startswith(kind.label + (" β=0.5" if kind.variational else " nz=4"))


def test_a_run_of_a_new_kind_is_what_its_entry_says(monkeypatch):
    from latent_explorer.training.record.run import Run

    cae = ModelKind("cae", "CAE", "a conditional plain auto-encoder", variational=False,
                    conditional=True)
    monkeypatch.setitem(registry.MODEL_KINDS, "cae", cae)
    run = Run("r", TrainConfig(kind="cae", beta=0.5, nz=4))
    assert run.is_conditional and not run.is_variational and run.beta == 0.0
    assert run.default_name() == f"CAE nz=4 #{run.id}"
