"""The course MLP auto-encoders: architecture, loss, sampling, labels, seeding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from latent_explorer.models import KINDS, ModelConfig, Posterior, build_model, gaussian_kl

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


def _model(kind: str, seed: int = 0, **kw):
    return build_model(ModelConfig(kind=kind, **kw), torch.Generator().manual_seed(seed))


def _images(n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.rand((n, 28, 28), generator=torch.Generator().manual_seed(seed))


def _labels(n: int = 6) -> torch.Tensor:
    return torch.arange(n) % 10


def _label_for(kind: str, n: int = 6):
    return _labels(n) if kind == "cvae" else None


def _layer_summary(seq: nn.Sequential) -> list:
    out = []
    for m in seq:
        if isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features))
        else:
            out.append(type(m).__name__)
    return out


# -- architecture ----------------------------------------------------------------------------
def test_default_config_is_the_course_design():
    cfg = ModelConfig()
    assert cfg.nz == 32
    assert cfg.hidden == (256, 64)
    assert cfg.image_shape == (1, 28, 28)
    assert cfg.likelihood == "bernoulli"
    assert cfg.n_pixels == 784
    assert cfg.n_classes == 10


@pytest.mark.parametrize("kind", KINDS)
def test_architecture_matches_the_course(kind):
    nz = 32
    model = _model(kind)
    cond = 10 if kind == "cvae" else 0
    enc_out = nz if kind == "ae" else 2 * nz
    assert _layer_summary(model.encoder) == [
        ("Linear", 784 + cond, 256), "ReLU", ("Linear", 256, 64), "ReLU", ("Linear", 64, enc_out),
    ]
    # No Sigmoid inside the decoder: the loss works from logits and decode() applies it.
    assert _layer_summary(model.decoder) == [
        ("Linear", nz + cond, 64), "ReLU", ("Linear", 64, 256), "ReLU", ("Linear", 256, 784),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_nz_sets_the_latent_width(kind):
    model = _model(kind, nz=5)
    cond = 10 if kind == "cvae" else 0
    assert model.encoder[-1].out_features == (5 if kind == "ae" else 10)
    assert model.decoder[0].in_features == 5 + cond


@pytest.mark.parametrize("kind", KINDS)
def test_decode_applies_sigmoid_to_the_decoder_output(kind):
    model = _model(kind)
    z = torch.randn((4, 32), generator=torch.Generator().manual_seed(3)) * 3
    y = _label_for(kind, 4)
    h = z if y is None else torch.cat([z, F.one_hot(y, 10).float()], dim=1)
    with torch.no_grad():
        expected = torch.sigmoid(model.decoder(h)).view(4, 1, 28, 28)
        out = model.decode(z, y)
    assert out.shape == (4, 1, 28, 28)
    torch.testing.assert_close(out, expected)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_encode_outputs(kind):
    model = _model(kind)
    x = _images()
    post = model.encode(x, _label_for(kind))
    assert isinstance(post, Posterior)
    assert post.mean.shape == (6, 32)
    if kind == "ae":
        assert post.log_sigma is None
        torch.testing.assert_close(post.mean, model.encoder(x.flatten(1)))
    else:
        assert post.log_sigma.shape == (6, 32)


def test_cvae_concatenates_the_one_hot_label_to_encoder_input_and_z():
    model = _model("cvae")
    x, y = _images(), _labels()
    oh = F.one_hot(y, 10).float()
    post = model.encode(x, y)
    out = model.encoder(torch.cat([x.flatten(1), oh], dim=1))
    torch.testing.assert_close(post.mean, out[:, :32])
    torch.testing.assert_close(post.log_sigma, out[:, 32:])
    z = torch.zeros((6, 32))
    torch.testing.assert_close(model.decode_logits(z, y), model.decoder(torch.cat([z, oh], dim=1)))
    # The label matters: the same z decodes differently for different classes.
    assert not torch.allclose(model.decode(z[:1], 0), model.decode(z[:1], 1))


# -- the loss ---------------------------------------------------------------------------------
def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(5)
    mu = torch.randn((7, 32), generator=g) * 2
    log_sigma = torch.randn((7, 32), generator=g)
    expected = kl_divergence(Normal(mu, log_sigma.exp()), Normal(0.0, 1.0)).sum(-1)
    got = gaussian_kl(mu, log_sigma)
    assert got.shape == (7,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert torch.all(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)) == 0)


def _hand_loss(model, x, y, beta, seed):
    """BCE (mean over pixels and batch) + β·KL (sum over z, mean over batch), written out."""
    n = x.shape[0]
    flat = x.flatten(1)
    oh = None if y is None else F.one_hot(y, 10).float()
    h = flat if oh is None else torch.cat([flat, oh], dim=1)
    out = model.encoder(h)
    mu, log_sigma = out[:, :32], out[:, 32:]
    eps = torch.randn((n, 32), generator=torch.Generator().manual_seed(seed))
    z = mu + log_sigma.exp() * eps
    logits = model.decoder(z if oh is None else torch.cat([z, oh], dim=1))
    bce = -(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits))
    recon = bce.mean()
    var = (2 * log_sigma).exp()
    kl = (0.5 * (mu ** 2 + var - 1 - torch.log(var))).sum(dim=1).mean()
    return recon + beta * kl, recon, kl


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_variational_loss_matches_a_hand_computation(kind):
    model = _model(kind)
    x, y = _images(), _label_for(kind)
    parts = model.loss(x, y, beta=0.7, generator=torch.Generator().manual_seed(11))
    total, recon, kl = _hand_loss(model, x, y, 0.7, seed=11)
    torch.testing.assert_close(parts.recon, recon, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(parts.kl, kl, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(parts.total, total, rtol=1e-5, atol=1e-6)
    assert parts.total.dim() == 0
    assert parts.kl.item() > 0


def test_loss_uses_config_beta_by_default():
    model = _model("vae", beta=0.25)
    x = _images()
    parts = model.loss(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(parts.total, parts.recon + 0.25 * parts.kl)


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_beta_zero_gives_total_equal_to_recon(kind):
    model = _model(kind)
    parts = model.loss(_images(), _label_for(kind), beta=0.0,
                       generator=torch.Generator().manual_seed(0))
    assert parts.kl.item() > 0
    assert torch.equal(parts.total, parts.recon)


def test_ae_loss_is_pure_bce_of_the_deterministic_code():
    model = _model("ae")
    x = _images()
    parts = model.loss(x, beta=3.0)
    assert parts.kl.item() == 0.0
    assert torch.equal(parts.total, parts.recon)
    expected = F.binary_cross_entropy(torch.sigmoid(model.decoder(model.encoder(x.flatten(1)))),
                                      x.flatten(1))
    torch.testing.assert_close(parts.recon, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_finite_for_saturated_logits(kind):
    model = _model(kind)
    with torch.no_grad():
        model.decoder[-1].weight.fill_(1e4)  # logits of ±1e5 and more: sigmoid is exactly 0/1
        model.decoder[-1].bias.fill_(-1e4)
    x = _images()
    x[:, :14] = 1.0  # targets that disagree with a saturated output
    y = _label_for(kind)
    with torch.no_grad():
        assert model.decode(model.encode(x, y).mean, y).unique().numel() <= 2  # really saturated
    parts = model.loss(x, y, generator=torch.Generator().manual_seed(0))
    assert all(torch.isfinite(p) for p in parts)
    assert parts.recon.item() > 100  # huge but finite
    parts.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# -- reconstruction and sampling -------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_reconstruct_is_the_deterministic_posterior_mean(kind):
    model = _model(kind)
    model.train()  # no dropout/batchnorm, but it must not matter anyway
    x, y = _images(), _label_for(kind)
    a = model.reconstruct(x, y)
    b = model.reconstruct(x, y)
    assert torch.equal(a, b)
    assert a.shape == (6, 1, 28, 28)
    with torch.no_grad():
        expected = model.decode(model.encode(x, y).mean, y)
    torch.testing.assert_close(a, expected)


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_forward_samples_around_the_mean(kind):
    model = _model(kind)
    x, y = _images(), _label_for(kind)
    l1, _ = model(x, y, torch.Generator().manual_seed(1))
    l2, _ = model(x, y, torch.Generator().manual_seed(1))
    l3, _ = model(x, y, torch.Generator().manual_seed(2))
    assert torch.equal(l1, l2)
    assert not torch.allclose(l1, l3)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_is_reproducible_with_the_same_generator_seed(kind):
    model = _model(kind)
    label = 3 if kind == "cvae" else None
    a = model.sample(5, label, generator=torch.Generator().manual_seed(42))
    b = model.sample(5, label, generator=torch.Generator().manual_seed(42))
    c = model.sample(5, label, generator=torch.Generator().manual_seed(43))
    assert a.shape == (5, 1, 28, 28)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_temperature_scales_z():
    model = _model("vae")
    z1 = model.sample_prior(8, 1.0, torch.Generator().manual_seed(9))
    z05 = model.sample_prior(8, 0.5, torch.Generator().manual_seed(9))
    assert z1.shape == (8, 32)
    torch.testing.assert_close(z05, 0.5 * z1)
    # temperature 0: every sample is the decoding of z = 0
    s0 = model.sample(3, temperature=0.0, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(s0, model.decode(torch.zeros(3, 32)).detach())
    s = model.sample(3, temperature=0.5, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(s, model.decode(z05[:3]).detach())


# -- labels -----------------------------------------------------------------------------------
def test_cvae_requires_a_label():
    model = _model("cvae")
    with pytest.raises(ValueError, match="label"):
        model.sample(2)
    with pytest.raises(ValueError, match="label"):
        model.reconstruct(_images(2))
    with pytest.raises(ValueError, match="label"):
        model.loss(_images(2))


@pytest.mark.parametrize("bad", [10, -1, 12])
def test_cvae_rejects_out_of_range_labels(bad):
    model = _model("cvae")
    with pytest.raises(ValueError, match="0..9"):
        model.sample(2, bad)
    with pytest.raises(ValueError, match="0..9"):
        model.reconstruct(_images(2), torch.tensor([0, bad]))


def test_cvae_accepts_int_and_tensor_labels_alike():
    model = _model("cvae")
    z = torch.randn((3, 32), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.decode(z, 7), model.decode(z, torch.tensor([7, 7, 7])))


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_unconditional_models_reject_a_label(kind):
    model = _model(kind)
    with pytest.raises(ValueError, match="label"):
        model.sample(2, 3)
    with pytest.raises(ValueError, match="label"):
        model.reconstruct(_images(2), 3)
    with pytest.raises(ValueError, match="label"):
        model.decode(torch.zeros(2, 32), 0)
    with pytest.raises(ValueError, match="label"):  # a tensor of labels too, not ignored
        model.reconstruct(_images(2), torch.tensor([1, 2]))


# -- seeding and config -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_build_model_with_the_same_seed_gives_identical_weights(kind):
    a, b, c = _model(kind, seed=7), _model(kind, seed=7), _model(kind, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_init_follows_nn_linear_default_bounds():
    model = _model("vae")
    for m in model.modules():
        if isinstance(m, nn.Linear):
            bound = 1 / m.in_features ** 0.5
            assert m.weight.abs().max().item() <= bound + 1e-6
            assert m.bias.abs().max().item() <= bound + 1e-6
            assert m.weight.std().item() > 0.3 * bound  # really drawn, not zeros


@pytest.mark.parametrize("kw", [{"kind": "gan"}, {"nz": 0}, {"beta": -0.1},
                                {"beta": float("nan")}, {"beta": float("inf")}, {"hidden": ()},
                                {"hidden": (256, 0)}])
def test_bad_model_config_raises(kw):
    with pytest.raises(ValueError):
        ModelConfig(**kw)


def test_model_config_dict_round_trip():
    cfg = ModelConfig(kind="cvae", nz=8, hidden=(128, 32), beta=0.5)
    d = cfg.to_dict()
    assert d["hidden"] == [128, 32]
    assert ModelConfig.from_dict(d) == cfg
    assert ModelConfig.from_dict({**d, "unknown_future_key": 1}) == cfg
