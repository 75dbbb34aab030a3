"""One training step of the course MLPs with the backward pass written out by hand.

Autograd is general, and at batch 64 its generality costs more than the arithmetic: a step of
the VAE is 17 small matmuls, yet eager autograd spends as long again creating graph nodes,
saving tensors and dispatching ~150 tiny ops. These models are a fixed chain (Linear, ReLU,
..., reparametrisation, Linear, ReLU, ..., BCE-with-logits), so the gradients have a short
closed form. This module computes the same loss and the same gradients as `LatentModel.loss`
+ `backward()` (a test compares them against autograd, layer by layer, for every kind) in
about 50 ops on buffers allocated once per batch size, and leaves them in each `param.grad`
for the optimizer, exactly where autograd would.

The formulas, for a batch of B images of P pixels (Kingma & Welling 2014, appendix B, for KL):
  recon = mean BCE(sigmoid(logits), x)             d recon / d logits = (sigmoid(logits) - x) / (B P)
  KL    = 1/B Σ ½(μ² + σ² − 1 − 2 log σ)          d KL / d μ = μ / B,   d KL / d log σ = (σ² − 1) / B
  z     = μ + σ ε                                   d z / d μ = 1,        d z / d log σ = σ ε
  Linear h = a Wᵀ + b:  dW = gᵀ a,  db = Σ_rows g,  da = g W;   ReLU: da = g · [a > 0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from latent_explorer.models.autoencoders import LatentModel

# ReLU's backward in one kernel, writing in place (looked up once: the lookup is not free).
_THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward.grad_input


def supports(model: nn.Module) -> bool:
    """Whether `model` is the plain MLP chain this step knows (else use autograd): an
    architecture whose registry entry does not list the fast engine (conv) never is, nor is a
    model whose prior has no closed-form KL (the VampPrior)."""
    if not isinstance(model, LatentModel) or "fast" not in model.config.architecture.engines:
        return False
    if not model.config.prior_spec.closed_form:  # its KL's gradient is autograd's to take
        return False
    if model.config.likelihood != "bernoulli":  # the hand-written backward is the BCE's
        return False
    for seq in (model.encoder, model.decoder):
        mods = list(seq)
        if not mods or not isinstance(mods[-1], nn.Linear):
            return False
        expect_linear = True
        for m in mods:
            if expect_linear != isinstance(m, nn.Linear):
                return False
            if not expect_linear and type(m) is not nn.ReLU:
                return False
            expect_linear = not expect_linear
    params = list(model.parameters())
    return all(p.dtype == torch.float32 for p in params) and len({p.device for p in params}) == 1


class _Buffers:
    """Every activation and gradient of one batch size, allocated once."""

    def __init__(self, enc: list[nn.Linear], dec: list[nn.Linear], batch: int, nz: int,
                 n_pixels: int, device: torch.device) -> None:
        def new(cols: int) -> Tensor:
            return torch.empty(batch, cols, device=device)

        self.enc_in = new(enc[0].in_features)  # pixels + one-hot (CVAE only)
        self.enc_h = [new(m.out_features) for m in enc]  # post-ReLU; the last is (μ, log σ)
        self.dec_in = new(dec[0].in_features)  # z (+ one-hot)
        self.dec_h = [new(m.out_features) for m in dec]  # post-ReLU; the last is the logits
        self.enc_g = [new(m.out_features) for m in enc]  # gradients w.r.t. those outputs
        self.dec_g = [new(m.out_features) for m in dec]
        self.dec_in_g = new(dec[0].in_features)
        self.sigma = new(nz)
        self.sigma_eps = new(nz)
        self.kl_terms = new(nz)
        self.bce_scratch = new(dec[-1].out_features)
        self.ones = torch.ones(batch, device=device)  # bias gradients as gᵀ·1 (see below)
        self.onehot = new(enc[0].in_features - n_pixels)
        # Views made once (each slice or transpose is a Python call of ~2 µs per step).
        self.enc_in_pixels, self.enc_in_onehot = self.enc_in[:, :n_pixels], self.enc_in[:, n_pixels:]
        self.z, self.dec_in_onehot = self.dec_in[:, :nz], self.dec_in[:, nz:]
        out = self.enc_h[-1]
        self.mu, self.log_sigma = out[:, :nz], out[:, nz:]  # an AE's log σ is empty
        self.g_z = self.dec_in_g[:, :nz]
        self.g_mu, self.g_log_sigma = self.enc_g[-1][:, :nz], self.enc_g[-1][:, nz:]
        self.enc_g_t = [g.t() for g in self.enc_g]
        self.dec_g_t = [g.t() for g in self.dec_g]


class FastStep:
    """`step(x, y) -> tensor([total, recon, kl])`, leaving the gradients in each `param.grad`.

    Same contract as the autograd step in `training.engine.loop`, so the loop treats both alike.
    """

    def __init__(self, model: LatentModel, beta: float, generator: torch.Generator | None) -> None:
        if not supports(model):
            raise ValueError("FastStep needs a float32 LatentModel of Linear/ReLU layers")
        self.model = model
        self.beta = float(beta)
        self.generator = generator
        self.enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
        self.dec = [m for m in model.decoder if isinstance(m, nn.Linear)]
        # (weight, bias) Parameter objects: Module attribute lookups cost ~1 µs each, and an
        # optimizer that re-points `param.data` (FlatAdam) keeps these same objects.
        self.enc_params = [(m.weight, m.bias) for m in self.enc]
        self.dec_params = [(m.weight, m.bias) for m in self.dec]
        self.nz = model.config.nz
        self.n_pixels = model.config.n_pixels
        self.variational = model.config.is_variational
        self.conditional = model.config.is_conditional
        self.device = next(model.parameters()).device
        self.noise_device = generator.device if generator is not None else self.device
        self._buffers: dict[int, _Buffers] = {}

    @torch.no_grad()
    def __call__(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        b = x.shape[0]
        buf = self._buffers.get(b)
        if buf is None:
            buf = self._buffers[b] = _Buffers(self.enc, self.dec, b, self.nz, self.n_pixels,
                                              self.device)
        x = x.reshape(b, -1)
        nz = self.nz

        # -- forward -----------------------------------------------------------------------
        inp = encoder_input(buf, x, y, self.conditional, self.device)
        enc_out = _linear_chain(self.enc_params, buf.enc_h, inp)
        mu, log_sigma, sigma, sigma_eps = buf.mu, buf.log_sigma, buf.sigma, buf.sigma_eps
        if self.variational:
            eps = torch.randn((b, nz), generator=self.generator, device=self.noise_device)
            torch.exp(log_sigma, out=sigma)
            torch.mul(sigma, eps.to(self.device), out=sigma_eps)
            torch.add(mu, sigma_eps, out=buf.z)
        else:
            buf.z.copy_(enc_out)
        logits = _linear_chain(self.dec_params, buf.dec_h, buf.dec_in)

        recon = _bce_with_grad(logits, x, buf.dec_g[-1], buf.bce_scratch)
        if self.variational:
            # KL = 1/B Σ ½(μ² + σ² − 1 − 2 log σ)
            terms = torch.mul(sigma, sigma, out=buf.kl_terms).addcmul_(mu, mu)
            terms.add_(log_sigma, alpha=-2.0)
            kl = terms.sum().mul_(0.5 / b).sub_(0.5 * nz)
            total = recon + self.beta * kl
        else:
            kl = torch.zeros((), device=self.device)
            total = recon

        # -- backward ----------------------------------------------------------------------
        _linear_chain_backward(self.dec_params, buf.dec_h, buf.dec_g, buf.dec_g_t, buf.dec_in,
                               buf.dec_in_g, buf.ones)
        g_z = buf.g_z
        if self.variational:
            k = self.beta / b
            torch.add(g_z, mu, alpha=k, out=buf.g_mu)  # d/dμ = g_z + k μ
            # d/dlog σ = g_z σ ε + k (σ² − 1)
            torch.mul(g_z, sigma_eps, out=buf.g_log_sigma).addcmul_(sigma, sigma, value=k).sub_(k)
        else:
            buf.g_mu.copy_(g_z)
        _linear_chain_backward(self.enc_params, buf.enc_h, buf.enc_g, buf.enc_g_t, inp, None,
                               buf.ones)
        return torch.stack((total, recon, kl))


def encoder_input(buf, x: Tensor, y: Tensor | None, conditional: bool,
                  device: torch.device) -> Tensor:
    """The encoder's input for a batch: the pixels, or for a CVAE the pixels and the one-hot
    label, written into the buffers (the one-hot also where the decoder reads it; a stacked
    step's decoder buffer has a member axis in front, filled by broadcasting)."""
    if not conditional:
        return x
    if y is None:
        raise ValueError("a CVAE needs a class label")
    onehot = buf.onehot
    onehot.zero_().scatter_(1, y.reshape(x.shape[0], 1).to(device, torch.long), 1.0)
    buf.enc_in_pixels.copy_(x)
    buf.enc_in_onehot.copy_(onehot)
    buf.dec_in_onehot.copy_(onehot.expand_as(buf.dec_in_onehot))
    return buf.enc_in


def _bce_with_grad(logits: Tensor, x: Tensor, grad: Tensor, scratch: Tensor) -> Tensor:
    """Mean BCE of sigmoid(logits) against x (from the logits: finite when σ saturates);
    `grad` gets its gradient w.r.t. the logits, (σ(l) − x) / n. `scratch` is logits-shaped.

    BCE(l, x) = softplus(l) − x·l, and softplus(l) = relu(l) − log σ(|l|), where σ(|l|) lies in
    [½, 1] so its log is well conditioned (within ~1e-8 of the float64 value per pixel). Summed:
    Σ relu(l) = ½(Σ l + Σ |l|). Seven small kernels of exp, log and sums, where
    `binary_cross_entropy_with_logits` runs about as many with log1p, which has no vectorised
    CPU kernel here: 2-3× faster on 64×784 logits, and the same value to float32 rounding.
    """
    n = x.numel()
    flat_l, flat_x = logits.view(-1), x.reshape(-1)
    torch.abs(logits, out=scratch)
    sum_abs = scratch.sum()
    torch.sigmoid(scratch, out=scratch)
    torch.log(scratch, out=scratch)
    recon = (sum_abs.add_(flat_l.sum()).mul_(0.5).sub_(scratch.sum())
             .sub_(torch.dot(flat_x, flat_l)).div_(n))
    torch.sigmoid(logits, out=grad).sub_(x).mul_(1.0 / n)
    return recon


def _linear_chain(layers: Sequence[tuple[Tensor, Tensor]], outs: list[Tensor], a: Tensor) -> Tensor:
    """Linear, ReLU, ..., Linear into preallocated outputs (ReLU applied in place)."""
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        a = torch.addmm(b, a, w.t(), out=outs[i])
        if i < last:
            a.relu_()
    return a


def _grad(p: Tensor) -> Tensor:
    g = p.grad
    if g is None:  # the optimizer set it to None (zero_grad): give it storage back
        g = p.grad = torch.zeros_like(p)
    return g


def _linear_chain_backward(layers: Sequence[tuple[Tensor, Tensor]], outs: list[Tensor],
                           grads: list[Tensor], grads_t: list[Tensor], inp: Tensor,
                           inp_grad: Tensor | None, ones: Tensor) -> None:
    """Backward through Linear, ReLU, ..., Linear, given the last layer's output gradient
    (grads_t holds the transposed views of grads; `ones` is a batch-long vector of ones).

    A bias gradient, the column sums of g, is taken as the matrix-vector product gᵀ·1: with
    two threads torch's column sum of a 64×784 gradient took 70 µs (a reduction across the
    rows splits badly between threads), BLAS's gemv 8-20 µs.
    """
    for i in range(len(layers) - 1, -1, -1):
        w, b = layers[i]
        g = grads[i]
        a = outs[i - 1] if i > 0 else inp
        torch.mm(grads_t[i], a, out=_grad(w))
        torch.mv(grads_t[i], ones, out=_grad(b))
        if i > 0:
            ga = torch.mm(g, w, out=grads[i - 1])
            _THRESHOLD_BACKWARD(ga, a, 0.0, grad_input=ga)  # ReLU: zero where a = 0
        elif inp_grad is not None:
            torch.mm(g, w, out=inp_grad)


class FlatAdam:
    """Adam (Kingma & Ba 2015) over one flat buffer that holds all of a model's parameters.

    `torch.optim.Adam(fused=True)` runs the same kernel, but around it the Optimizer machinery
    (grouping tensors by device and dtype, per-parameter state, hooks) costs more than the
    kernel itself for a model this small. Here the parameters and their gradients are views
    into two flat tensors, so a step is one fused kernel over ~440k numbers. Call `release()`
    when training ends: the parameters then get storage of their own again.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        total = sum(p.numel() for p in self.params)
        dev = self.params[0].device
        self.flat = torch.empty(total, device=dev)
        self.flat_grad = torch.zeros(total, device=dev)
        self.exp_avg = torch.zeros(total, device=dev)
        self.exp_avg_sq = torch.zeros(total, device=dev)
        self.steps = torch.zeros((), device=dev)
        offset = 0
        with torch.no_grad():
            for p in self.params:
                n = p.numel()
                self.flat[offset:offset + n].copy_(p.reshape(-1))
                p.data = self.flat[offset:offset + n].view_as(p)
                p.grad = self.flat_grad[offset:offset + n].view_as(p)
                offset += n
        self._grads = [p.grad for p in self.params]
        self._fused = hasattr(torch, "_fused_adam_")

    @torch.no_grad()
    def step(self) -> None:
        for p, g in zip(self.params, self._grads):
            if p.grad is not g:  # someone replaced or cleared it (zero_grad(set_to_none=True))
                g.copy_(p.grad) if p.grad is not None else g.zero_()
                p.grad = g
        self.count_step()
        self.update([self.flat], [self.flat_grad], [self.exp_avg], [self.exp_avg_sq])

    def count_step(self) -> None:
        """Advance the step count (bias correction) once per optimisation step."""
        self.steps += 1

    @torch.no_grad()
    def update(self, params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
               exp_avg_sqs: list[Tensor]) -> None:
        """Adam on these views of the flat buffers at the current step count: `step()` on all
        of them, or a part (Adam is elementwise: parts updated separately are one step)."""
        b1, b2 = self.betas
        if self._fused:
            try:
                torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [],
                                   [self.steps] * len(params), lr=self.lr, beta1=b1, beta2=b2,
                                   weight_decay=0.0, eps=self.eps, amsgrad=False,
                                   maximize=False)
                return
            except (RuntimeError, NotImplementedError):  # no fused kernel for this device
                self._fused = False
        # The same update as torch.optim.Adam's single-tensor path, tensor by tensor.
        t = float(self.steps)
        for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1**t))

    def views(self, flat: Tensor) -> list[Tensor]:
        """`flat` (this optimizer's flat_grad, exp_avg or exp_avg_sq) cut into one view per
        parameter, shaped like it: e.g. to reset the moments of part of a parameter."""
        out, offset = [], 0
        for p in self.params:
            out.append(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        return out

    def release(self) -> None:
        """Give every parameter its own storage again (safe to save, move or train elsewhere)."""
        with torch.no_grad():
            for p in self.params:
                p.data = p.data.clone()
                p.grad = None


__all__ = ["FastStep", "FlatAdam", "supports"]
