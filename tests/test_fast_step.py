"""The hand-written training step and flat Adam agree with autograd and torch.optim.Adam."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latent_explorer.models import ModelConfig, build_model
from tolerances import ONE_PASS, assert_grads_close, assert_losses_close, assert_metric_close
from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_explorer.training.engine.fast_step import FastStep, FlatAdam, supports
from latent_explorer.training.engine.loop import TrainConfig, Trainer


pytestmark = pytest.mark.numerics


def autograd_step(model, x, y, beta, seed):
    parts = model.loss(x, y, beta, torch.Generator().manual_seed(seed))
    model.zero_grad(set_to_none=True)
    parts.total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return torch.stack([p.detach() for p in parts]), grads


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
@pytest.mark.parametrize("hidden, beta, batch", [((256, 64), 0.005, 64), ((40,), 0.0, 7),
                                                  ((30, 20, 10), 2.5, 33)])
def test_loss_and_every_gradient_match_autograd(kind, hidden, beta, batch):
    model = build_model(ModelConfig(kind=kind, nz=6, hidden=hidden), torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(batch, 28, 28, generator=gen)
    x[: batch // 2] = (x[: batch // 2] > 0.7).float()  # binary and grey images both
    y = torch.randint(0, 10, (batch,), generator=gen) if kind == "cvae" else None
    want_parts, want_grads = autograd_step(model, x, y, beta, seed=3)

    got_parts = FastStep(model, beta, torch.Generator().manual_seed(3))(x, y)

    torch.testing.assert_close(got_parts, want_parts, **ONE_PASS)
    for name, p in model.named_parameters():
        assert_grads_close(p.grad, want_grads[name], name)


def test_saturated_logits_give_a_finite_loss_like_autograd():
    model = build_model(ModelConfig(kind="vae", nz=4, hidden=(16,)), torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.decoder[-1].bias.copy_(torch.linspace(-200, 200, 784))  # sigmoid at 0 and 1
    x = (torch.rand(5, 784, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    want_parts, want_grads = autograd_step(model, x, None, 0.01, seed=1)
    got = FastStep(model, 0.01, torch.Generator().manual_seed(1))(x)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want_parts, rtol=1e-5, atol=1e-4)
    last_bias = f"decoder.{len(model.decoder) - 1}.bias"
    torch.testing.assert_close(model.decoder[-1].bias.grad, want_grads[last_bias])


def test_cvae_needs_a_label():
    model = build_model(ModelConfig(kind="cvae", nz=4, hidden=(16,)))
    with pytest.raises(ValueError, match="label"):
        FastStep(model, 0.0, None)(torch.rand(3, 784))


def test_only_plain_float32_mlps_are_supported():
    model = build_model(ModelConfig(kind="vae", nz=4, hidden=(16,)))
    assert supports(model)
    assert not supports(nn.Linear(3, 3))
    model.encoder[1] = nn.Tanh()
    assert not supports(model)
    with pytest.raises(ValueError):
        FastStep(model, 0.0, None)
    assert not supports(build_model(ModelConfig(kind="ae", nz=4, hidden=(16,))).double())


@pytest.mark.parametrize("fused", [True, False])
def test_flat_adam_follows_torch_adam(fused):
    cfg = ModelConfig(kind="cvae", nz=5, hidden=(32, 16))
    ref = build_model(cfg, torch.Generator().manual_seed(4))
    model = build_model(cfg, torch.Generator().manual_seed(4))
    ref_opt = torch.optim.Adam(ref.parameters(), lr=3e-3)
    opt = FlatAdam(model.parameters(), lr=3e-3)
    opt._fused = fused  # also check the plain-tensor update used where there is no fused kernel
    # Both get the same gradients (autograd's, of the same batch and noise, on the reference
    # model's weights), so only the optimizers differ: their updates agree to rounding at every
    # step and nothing feeds back. (Gradients of each model's own weights would let Adam amplify
    # the rounding of two gradient paths: tests/tolerances.py.)
    ref_gen = torch.Generator().manual_seed(5)
    data = torch.Generator().manual_seed(6)
    for _ in range(25):
        x = torch.rand(16, 784, generator=data)
        y = torch.randint(0, 10, (16,), generator=data)
        ref_opt.zero_grad()
        ref.loss(x, y, 0.1, ref_gen).total.backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            p.grad.copy_(q.grad)
        ref_opt.step()
        opt.step()
        with torch.no_grad():  # the same weights again for the next step's gradients
            for p, q in zip(model.parameters(), ref.parameters()):
                torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
                p.copy_(q)
    for (name, a), b in zip(ref.named_parameters(), model.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.equal(a, build_model(cfg, torch.Generator().manual_seed(4)).decoder[-1].bias)


def test_flat_adam_release_gives_parameters_their_own_storage(tmp_path):
    model = build_model(ModelConfig(kind="vae", nz=4, hidden=(16,)))
    opt = FlatAdam(model.parameters())
    flat_ptr = opt.flat.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == flat_ptr for p in model.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt.release()
    assert all(p.untyped_storage().data_ptr() != flat_ptr for p in model.parameters())
    assert len({p.untyped_storage().data_ptr() for p in model.parameters()}) == 4 * 2
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_trainer_engines_agree(small_dataset, kind, tmp_path):
    runs = {}
    for engine in ("fast", "autograd"):
        cfg = TrainConfig(kind=kind, nz=8, hidden=(64, 32), epochs=2, batch_size=64, lr=2e-3,
                          seed=7, device="cpu", engine=engine, precision="fp32")
        trainer = Trainer(cfg, small_dataset)
        result = trainer.run()
        assert result.state == "finished", result.error
        assert trainer.engine == engine
        runs[engine] = result
    fast, ref = runs["fast"], runs["autograd"]
    assert len(fast.history) == len(ref.history) == 20
    # The same arithmetic in another order: compared by the losses of every step and the test
    # metrics (tests/tolerances.py), not by the weights after 20 Adam steps.
    for part in ("total", "recon", "kl"):
        assert_losses_close(getattr(fast.history, part), getattr(ref.history, part), part)
    assert_metric_close(fast.metrics.bce, ref.metrics.bce, steps=20, what="test BCE")
    # The trained model owns its weights again: it saves and loads like any other.
    path = tmp_path / f"{kind}.safetensors"
    save_checkpoint(path, Checkpoint(fast.model, TrainConfig(kind=kind, nz=8, hidden=(64, 32)),
                                     fast.history))
    loaded = load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.parameters(), fast.model.parameters()))


@pytest.mark.parametrize("kw", [{"precision": "bf16"}, {"engine": "autograd"}])
def test_trainer_falls_back_to_autograd_when_asked_or_needed(small_dataset, kw):
    trainer = Trainer(TrainConfig(kind="vae", nz=4, hidden=(16,), epochs=1, device="cpu", **kw),
                      small_dataset)
    assert trainer.run().state == "finished"
    assert trainer.engine == "autograd"


def test_bad_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        TrainConfig(engine="jax")


def test_flat_adam_still_sees_gradients_that_were_replaced():
    # Anyone may call model.zero_grad() (set_to_none) or assign .grad: the step must use them.
    cfg = ModelConfig(kind="ae", nz=3, hidden=(8,))
    ref = build_model(cfg, torch.Generator().manual_seed(0))
    model = build_model(cfg, torch.Generator().manual_seed(0))
    ref_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    opt = FlatAdam(model.parameters(), lr=0.01)
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(1))
    for net, o in ((ref, ref_opt), (model, opt)):
        for _ in range(3):
            net.zero_grad(set_to_none=True)
            net.loss(x).total.backward()
            o.step()
    for a, b in zip(ref.parameters(), model.parameters()):
        torch.testing.assert_close(b, a)
    assert all(p.grad is g for p, g in zip(model.parameters(), opt._grads))
