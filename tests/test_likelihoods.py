"""The likelihood heads against torch.distributions, float64 and mpmath references, and the
registry's contract (torch-free, ValueError naming the choices, no state for old checkpoints)."""

from __future__ import annotations

import math
import subprocess
import sys

import mpmath
import pytest
import torch
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal

from latent_explorer.models.likelihoods import (
    DEFAULT_LIKELIHOOD, LikelihoodHead, bits_per_dim, bits_per_dim_8bit, get_likelihood,
    likelihood_names, list_likelihoods)


def head(name: str) -> LikelihoodHead:
    return get_likelihood(name).build()


# ---- bernoulli -------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [True, False])
def test_bernoulli_is_torch_bernoulli_from_logits(binary: bool) -> None:
    g = torch.Generator().manual_seed(1)
    out = torch.randn(6, 50, generator=g, dtype=torch.float64) * 8
    x = torch.rand(6, 50, generator=g, dtype=torch.float64)
    x = x.round() if binary else x
    want = Bernoulli(logits=out, validate_args=False).log_prob(x).sum(1)
    torch.testing.assert_close(head("bernoulli").log_prob(out, x), want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(head("bernoulli").mean(out), torch.sigmoid(out))


# ---- continuous bernoulli ----------------------------------------------------------------------

# logits at, inside and outside both Taylor cut-offs (torch's |η| ≲ 0.004, ours 0.1), and large
ETAS = [-20.0, -5.0, -0.3, -0.1, -0.0999, -0.05, -3e-3, -1e-4, 0.0, 1e-4, 3e-3, 0.05, 0.0999,
        0.1, 0.3, 5.0, 20.0]


def test_continuous_bernoulli_is_torch_continuous_bernoulli() -> None:
    eta = torch.tensor(ETAS, dtype=torch.float64).repeat(5, 1).T.reshape(-1, 5)
    x = torch.rand(eta.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    d = ContinuousBernoulli(logits=eta)
    h = head("continuous-bernoulli")
    torch.testing.assert_close(h.log_prob(eta, x), d.log_prob(x).sum(1), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(h.mean(eta), d.mean, rtol=1e-9, atol=1e-9)
    # float32 (what training runs in) against the float64 answer
    torch.testing.assert_close(h.log_prob(eta.float(), x.float()).double(), d.log_prob(x).sum(1),
                               rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(h.mean(eta.float()).double(), d.mean, rtol=0, atol=2e-6)


def test_continuous_bernoulli_normaliser_against_mpmath() -> None:
    """log C = log(η / tanh(η/2)) at 50 digits: checks the Taylor branch's coefficients."""
    from latent_explorer.models.likelihood_heads import continuous_bernoulli_log_norm

    mpmath.mp.dps = 50
    etas = [e for e in ETAS if e != 0.0] + [1e-8, 0.0999999, 0.1000001, 60.0]
    got = continuous_bernoulli_log_norm(torch.tensor(etas, dtype=torch.float64))
    want = [float(mpmath.log(mpmath.mpf(e) / mpmath.tanh(mpmath.mpf(e) / 2))) for e in etas]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-13, atol=1e-14)
    assert float(continuous_bernoulli_log_norm(torch.tensor(0.0))) == pytest.approx(math.log(2))


def test_continuous_bernoulli_stays_finite_where_probs_round_to_one() -> None:
    """torch's probs-based form is inf once σ(η) rounds to 1 (η ≳ 17 in float32); from the
    logits, log C → log|η| and the mean → 1 − 1/η (up to the head's limit on |η|)."""
    from latent_explorer.models.likelihood_heads import CB_LOGIT_LIMIT

    eta = torch.tensor([[25.0, -25.0, CB_LOGIT_LIMIT]])
    x = torch.tensor([[0.25, 0.5, 1.0]])
    h = head("continuous-bernoulli")
    bce = torch.nn.functional.binary_cross_entropy_with_logits(eta.double(), x.double(),
                                                               reduction="none")
    want = (-bce + eta.double().abs().log()).sum(1)
    torch.testing.assert_close(h.log_prob(eta, x).double(), want, rtol=1e-6, atol=0)
    torch.testing.assert_close(h.mean(eta), torch.tensor([[1 - 1 / 25, 1 / 25,
                                                           1 - 1 / CB_LOGIT_LIMIT]]),
                               rtol=0, atol=1e-6)
    # Past the limit, the distribution is the limit's: finite, the same numbers.
    far = torch.tensor([[1e3, -1e3, 1e5]])
    at = torch.tensor([[CB_LOGIT_LIMIT, -CB_LOGIT_LIMIT, CB_LOGIT_LIMIT]])
    torch.testing.assert_close(h.log_prob(far, x), h.log_prob(at, x), rtol=0, atol=0)
    torch.testing.assert_close(h.mean(far), h.mean(at), rtol=0, atol=0)


def test_continuous_bernoulli_samples_have_its_mean() -> None:
    eta = torch.tensor([[-30.0, -4.0, -0.5, 0.0, 5e-4, 0.5, 4.0, 30.0]]).repeat(40_000, 1)
    h = head("continuous-bernoulli")
    s = h.sample(eta, generator=torch.Generator().manual_seed(3))
    assert s.min() >= 0 and s.max() <= 1
    # 5 standard errors of a mean of 40 000 draws of a variable in [0, 1] (sd ≤ 0.29)
    torch.testing.assert_close(s.mean(0), h.mean(eta[:1])[0], rtol=0, atol=5 * 0.29 / 200)


# ---- discretised logistic ----------------------------------------------------------------------

def logistic_reference(loc: torch.Tensor, log_scale: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """log P(k) in float64, written independently: σ of the standardised bin edges, the first
    bin from −∞, the last to +∞; the difference is taken in whichever tail loses no digits."""
    loc, s = loc.double(), log_scale.double().clamp(min=-7).exp()
    y = 2 * k.double() / 255 - 1
    hi = torch.where(k == 255, torch.full_like(y, math.inf), (y + 1 / 255 - loc) / s)
    lo = torch.where(k == 0, torch.full_like(y, -math.inf), (y - 1 / 255 - loc) / s)
    upper_tail = lo > 0  # both edges above the location: 1 − σ keeps the digits
    p = torch.where(upper_tail, torch.sigmoid(-lo) - torch.sigmoid(-hi),
                    torch.sigmoid(hi) - torch.sigmoid(lo))
    return p.log()


def logistic_out(raw_loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    return torch.cat([raw_loc, log_scale], dim=1)  # the documented [location | log-scale] layout


def test_logistic_matches_float64_reference_on_8bit_data() -> None:
    g = torch.Generator().manual_seed(4)
    n, d = 8, 300
    raw = torch.randn(n, d, generator=g) * 1.5
    log_scale = torch.rand(n, d, generator=g) * 4 - 4  # s from e^-4 to 1
    k = torch.randint(0, 256, (n, d), generator=g)
    k[0, :3], k[1, :3] = 0, 255  # both tail bins, surely
    want = logistic_reference(torch.tanh(raw.double()), log_scale, k).sum(1)
    h = head("logistic")
    got = h.log_prob(logistic_out(raw, log_scale), k.float() / 255)
    torch.testing.assert_close(got.double(), want, rtol=2e-5, atol=1e-3)
    got64 = h.log_prob(logistic_out(raw.double(), log_scale.double()), k.double() / 255)
    torch.testing.assert_close(got64, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("loc,log_scale", [(0.0, 0.0), (0.3, -3.0), (-0.999, -7.0), (0.7, 3.0),
                                           (0.0, -20.0), (1 - 1e-9, 2.0)])
def test_logistic_probabilities_of_all_256_values_sum_to_one(loc: float, log_scale: float) -> None:
    raw = torch.full((256, 1), math.atanh(loc), dtype=torch.float64)
    out = logistic_out(raw, torch.full((256, 1), log_scale, dtype=torch.float64))
    x = torch.arange(256, dtype=torch.float64).unsqueeze(1) / 255
    h = head("logistic")
    log_p = h.log_prob(out, x)
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-12)
    # its mean is the binned mean Σ (k/255) P(k) to half a grey level, and to 1e-6 for s ≥ 1
    binned = float((x[:, 0] * log_p.exp()).sum())
    assert float(h.mean(out[:1])) == pytest.approx(binned, abs=1e-6 if log_scale >= 0 else 1 / 510)
    assert float(h.mean(out[:1].float())) == pytest.approx(binned, abs=1e-6 if log_scale >= 0 else 1 / 510)


def test_logistic_far_tails_against_mpmath() -> None:
    """Where a float64 CDF difference underflows to 0 (|standardised edge| ~ 1000), the closed
    form stays exact: checked at 60 digits."""
    mpmath.mp.dps = 60
    cases = [(-0.9, -7.0, 200), (0.9, -7.0, 3), (0.2, -7.0, 140), (0.0, -5.0, 255), (0.0, -5.0, 0),
             (0.1, 40.0, 100)]
    loc = torch.tensor([[c[0] for c in cases]], dtype=torch.float64)
    log_scale = torch.tensor([[c[1] for c in cases]], dtype=torch.float64)
    k = torch.tensor([[c[2] for c in cases]])
    want = []
    for m, ls, kk in cases:
        s, y = mpmath.exp(mpmath.mpf(ls)), mpmath.mpf(2 * kk) / 255 - 1
        hi = mpmath.inf if kk == 255 else (y + mpmath.mpf(1) / 255 - m) / s  # standardised
        lo = -mpmath.inf if kk == 0 else (y - mpmath.mpf(1) / 255 - m) / s
        # P = σ(hi) − σ(lo) = σ(−lo) − σ(−hi): the second form above the location keeps the digits
        p = (mpmath.sigmoid(-lo) - mpmath.sigmoid(-hi)) if lo > 0 else (
            mpmath.sigmoid(hi) - mpmath.sigmoid(lo))
        want.append(float(mpmath.log(p)))
    h = head("logistic")
    for dtype, rtol in [(torch.float64, 1e-9), (torch.float32, 1e-5)]:
        out = logistic_out(torch.atanh(loc), log_scale).to(dtype)
        got = torch.stack([h.log_prob(out[:, [i, i + len(cases)]], k[:, i:i + 1].to(dtype) / 255)
                           for i in range(len(cases))], 1)[0]
        torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64),
                                   rtol=rtol, atol=1e-6)
    assert min(want) < -500  # the cases do reach where a plain difference is log(0)


def test_logistic_is_finite_with_finite_gradients_at_extremes() -> None:
    raw = torch.tensor([[-60.0, 60.0, 0.0, 3.0, -3.0, 0.0, 1e4, -1e4]], requires_grad=True)
    log_scale = torch.tensor([[-100.0, -100.0, 200.0, -7.0, 30.0, 88.0, 0.0, -50.0]],
                             requires_grad=True)
    x = torch.tensor([[1.0, 0.0, 0.5, 0.0, 1.0, 128 / 255, 0.0, 1.0]])
    log_p = head("logistic").log_prob(torch.cat([raw, log_scale], 1).view(1, 16), x)
    assert torch.isfinite(log_p).all()
    log_p.sum().backward()
    assert torch.isfinite(raw.grad).all() and torch.isfinite(log_scale.grad).all()
    # means of the clipped logistic: at ±1 with s = e^-7 half its mass lies outside, s·ln2/2
    # from the end; (tanh 3 + 1)/2; ½ for huge s; logistic(1, 1) clipped: (softplus 2 − ln 2)/2
    end, clipped = math.exp(-7) * math.log(2) / 2, 0.5 * (math.log1p(math.exp(2)) - math.log(2))
    torch.testing.assert_close(head("logistic").mean(torch.cat([raw, log_scale], 1).detach()),
                               torch.tensor([[end, 1 - end, 0.5, 0.99753, 0.5, 0.5, clipped, end]]),
                               rtol=0, atol=1e-5)
    # s = e^200 underflows 1/s to 0 in float32; the bin's probability is still d/4 = e^-200/510
    one = head("logistic").log_prob(torch.tensor([[0.0, 200.0]]), torch.tensor([[0.5]]))
    assert float(one) == pytest.approx(-200 - math.log(510), rel=1e-6)


def test_logistic_samples_lie_on_the_8bit_grid_with_its_mean() -> None:
    raw = torch.tensor([[-2.0, 0.0, 0.4, 2.0]]).repeat(20_000, 1)
    out = logistic_out(raw, torch.tensor([[-3.0, -1.0, -2.0, -3.0]]).repeat(20_000, 1))
    h = head("logistic")
    s = h.sample(out, generator=torch.Generator().manual_seed(5))
    assert torch.equal(s * 255, (s * 255).round()) and s.min() >= 0 and s.max() <= 1
    torch.testing.assert_close(s.mean(0), h.mean(out[:1])[0], rtol=0, atol=5 * 0.5 / math.sqrt(20_000))


# ---- gaussian ------------------------------------------------------------------------------

def test_gaussian_is_torch_normal_with_its_learned_sigma() -> None:
    g = torch.Generator().manual_seed(6)
    out, x = torch.randn(5, 40, generator=g) * 3, torch.rand(5, 40, generator=g)
    h = head("gaussian")
    assert float(h.sigma) == pytest.approx(0.1, rel=1e-6)
    with torch.no_grad():
        h.log_sigma_raw.fill_(-1.3)
    want = Normal(torch.sigmoid(out), h.sigma).log_prob(x).sum(1)
    torch.testing.assert_close(h.log_prob(out, x), want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(h.mean(out), torch.sigmoid(out))


@pytest.mark.parametrize("residual,grows", [(0.3, True), (0.01, False)])
def test_gaussian_sigma_is_trained_towards_the_residual(residual: float, grows: bool) -> None:
    """One Adam step on −log p moves σ from 0.1 towards the residuals' size."""
    h = head("gaussian")
    params = list(h.parameters())
    assert len(params) == 1 and params[0].requires_grad
    g = torch.Generator().manual_seed(7)
    out = torch.randn(16, 100, generator=g)
    sign = torch.randint(0, 2, out.shape, generator=g) * 2 - 1
    x = torch.sigmoid(out) + residual * sign  # |x − mean| = residual everywhere
    before = float(h.sigma)
    opt = torch.optim.Adam(h.parameters(), lr=1e-2)
    (-h.log_prob(out, x).mean()).backward()
    opt.step()
    assert (float(h.sigma) > before) == grows, (before, float(h.sigma))


# ---- registry and bits per dimension ---------------------------------------------------------

def test_registry_names_choices_and_flags() -> None:
    assert likelihood_names() == ("bernoulli", "continuous-bernoulli", "logistic", "gaussian")
    assert DEFAULT_LIKELIHOOD == "bernoulli"
    with pytest.raises(ValueError, match="bernoulli, continuous-bernoulli, logistic, gaussian"):
        get_likelihood("poisson")
    assert [s.name for s in list_likelihoods() if s.discrete] == ["logistic"]
    for spec in list_likelihoods():
        h = spec.build()
        assert isinstance(h, LikelihoodHead) and h.params_per_value == spec.params_per_value
        assert spec.label and spec.description
        # the decoder width each head asks for is what it reads
        out = torch.zeros(2, spec.params_per_value * 12)
        assert h.log_prob(out, torch.full((2, 12), 0.5)).shape == (2,)
        assert h.mean(out).shape == (2, 12) and h.sample(out).shape == (2, 12)
        with pytest.raises(ValueError, match="parameter"):
            h.log_prob(torch.zeros(2, 13), torch.full((2, 12), 0.5))


def test_only_the_gaussian_head_has_state() -> None:
    """Old checkpoints (bernoulli) must load: its head adds no state_dict keys."""
    keys = {name: list(get_likelihood(name).build().state_dict()) for name in likelihood_names()}
    assert keys == {"bernoulli": [], "continuous-bernoulli": [], "logistic": [],
                    "gaussian": ["log_sigma_raw"]}


def test_registry_imports_without_torch() -> None:
    code = ("import sys; import latent_explorer.models.likelihoods as m; m.likelihood_names(); "
            "m.get_likelihood('logistic'); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == "False"


def test_bits_per_dim_known_values() -> None:
    d = 784
    assert bits_per_dim(d * math.log(256), d) == pytest.approx(8.0, rel=1e-15)  # uniform on 256
    assert bits_per_dim(math.log(2) + math.log(4), 2) == pytest.approx(1.5, rel=1e-15)  # P=½, ¼
    t = bits_per_dim(torch.tensor([d * math.log(256)], dtype=torch.float64), d)
    assert float(t) == pytest.approx(8.0, rel=1e-15)
    # the uniform density on [0, 1]^D (nll 0) is the uniform over 256 values: 8 bits/dim
    assert bits_per_dim_8bit(0.0, d) == pytest.approx(8.0, rel=1e-15)
    assert bits_per_dim_8bit(0.0, d, scaled_to_unit=False) == 0.0
    # a discrete head's nll in bits/dim is −log2 P per value
    out = logistic_out(torch.zeros(1, 3), torch.full((1, 3), -2.0))
    x = torch.tensor([[0.0, 128 / 255, 1.0]])
    want = -logistic_reference(torch.zeros(1, 3), torch.full((1, 3), -2.0), (x * 255).round()).sum() / (3 * math.log(2))
    assert float(bits_per_dim(-head("logistic").log_prob(out, x), 3)) == pytest.approx(float(want), rel=1e-5)


def test_continuous_bernoulli_stops_pushing_logits_on_binary_values():
    """On 0/1 values the CB density is unbounded (log p ~ log |η|): past the limit the head
    holds log p flat and gives no gradient, so training on binary images cannot run away."""
    from latent_explorer.models.likelihood_heads import CB_LOGIT_LIMIT

    head = get_likelihood("continuous-bernoulli").build()
    x = torch.tensor([[1.0, 0.0]])
    inside = torch.tensor([[CB_LOGIT_LIMIT / 2, -CB_LOGIT_LIMIT / 2]], requires_grad=True)
    head.log_prob(inside, x).sum().backward()
    assert (inside.grad.abs() > 0).all()  # below the limit it still learns
    far = torch.tensor([[1e6, -1e6]], requires_grad=True)
    lp = head.log_prob(far, x)
    lp.sum().backward()
    at_limit = head.log_prob(torch.tensor([[CB_LOGIT_LIMIT, -CB_LOGIT_LIMIT]]), x)
    assert torch.isfinite(lp).all() and torch.equal(lp, at_limit)
    assert (far.grad == 0).all()
