"""M course MLPs of one architecture trained as one: stacked weights and a hand-written
batched step.

A β sweep trains M models that differ only in β and seed on the same minibatches. Stacking
their weights along a leading member dimension (weight (M, out, in), bias (M, out)) turns M
small matmuls into one batched matmul (`torch.baddbmm`/`bmm`) and M × ~50 small ops into ~50
ops on M-times larger tensors, so the per-op dispatch and Python costs that dominate a single
small model's step are paid once for all members. The arithmetic of each member is the one of
`training.engine.fast_step.FastStep` (same formulas, see there), done per member: nothing mixes
members, so a member's losses and gradients are those of its own single run up to float32
rounding (batched and single matmuls sum in different orders).

The encoder's first layer reads the same images for every member, so its forward and its
weight gradient are each one ordinary matmul against all members' weights side by side
((B, in) × (in, M·out)), the largest and most efficient product of the step.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

import torch
from torch import Tensor, nn

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.engine.fast_step import FlatAdam, encoder_input, supports

# ReLU's backward in one kernel, writing in place (looked up once: the lookup is not free).
_THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward.grad_input


class StackedModel:
    """M LatentModels of one architecture as stacked parameters, member first.

    `params` lists, per Linear layer in `LatentModel.parameters()` order (encoder then decoder),
    a weight (M, out, in) and a bias (M, out); member m's slices are that member's model.
    """

    def __init__(self, config: ModelConfig, params: Sequence[nn.Parameter],
                 names: Sequence[str]) -> None:
        self.config = config
        self.params = list(params)
        self.names = list(names)  # the LatentModel state_dict key of each entry of params
        self.n_members = int(self.params[0].shape[0])
        n_enc = sum(1 for n in self.names if n.startswith("encoder.")) // 2
        self.n_enc_layers = n_enc

    @classmethod
    def from_models(cls, models: Sequence[LatentModel],
                    device: torch.device | str = "cpu") -> "StackedModel":
        """Stack the weights of `models` (one architecture, float32 Linear/ReLU chains)."""
        if not models:
            raise ValueError("a stacked model needs at least one member")
        first = models[0]
        arch = (first.config.kind, first.config.nz, first.config.hidden, first.config.image_shape,
                first.config.n_classes)
        for m in models:
            c = m.config
            if (c.kind, c.nz, c.hidden, c.image_shape, c.n_classes) != arch or not supports(m):
                raise ValueError("stacked members must be float32 MLPs of one architecture")
        names = [n for n, _ in first.named_parameters()]
        per_member = [dict(m.named_parameters()) for m in models]
        params = [nn.Parameter(torch.stack([pm[n].detach() for pm in per_member]).to(device))
                  for n in names]
        return cls(first.config, params, names)

    @property
    def device(self) -> torch.device:
        return self.params[0].device

    def layers(self) -> tuple[list[tuple[nn.Parameter, nn.Parameter]],
                              list[tuple[nn.Parameter, nn.Parameter]]]:
        """(weight, bias) pairs of the encoder and of the decoder."""
        pairs = list(zip(self.params[0::2], self.params[1::2]))
        return pairs[: self.n_enc_layers], pairs[self.n_enc_layers:]

    def member_state_dict(self, m: int) -> dict[str, Tensor]:
        """Member m's weights, copied, keyed like `LatentModel.state_dict()`."""
        return {n: p.detach()[m].clone() for n, p in zip(self.names, self.params)}

    def member_model(self, m: int, beta: float | None = None) -> LatentModel:
        """A plain LatentModel holding a copy of member m's weights (on this model's device)."""
        config = self.config if beta is None else replace(self.config, beta=float(beta))
        model = build_model(config)
        model.load_state_dict(self.member_state_dict(m))
        return model.to(self.device).eval()

    def member_view(self, m: int, model: LatentModel) -> LatentModel:
        """Point `model`'s parameters at member m's slices (no copy: it follows training)."""
        for p, (n, q) in zip(self.params, model.named_parameters()):
            q.data = p.data[m]
        return model

    def slice(self, start: int, stop: int) -> "StackedModel":
        """Members start..stop-1 as a StackedModel of views: same storage, and gradients that
        are views of this model's gradients."""
        params = []
        for p in self.params:
            q = nn.Parameter(p.data[start:stop], requires_grad=p.requires_grad)
            q.grad = _grad(p)[start:stop]
            params.append(q)
        return StackedModel(self.config, params, self.names)

    def finite_members(self) -> Tensor:
        """(M,) bool: whether each member's weights are all finite."""
        ok = torch.ones(self.n_members, dtype=torch.bool, device=self.device)
        for p in self.params:  # by sums: NaN and inf propagate (loop._finite says why)
            ok &= torch.isfinite(p.detach().flatten(1).sum(1))
        return ok


class _Buffers:
    """Every activation and gradient of one batch size, allocated once."""

    def __init__(self, enc, dec, n_members: int, batch: int, nz: int, n_pixels: int,
                 n_seeds: int, device: torch.device) -> None:
        M = n_members

        def new(cols: int) -> Tensor:
            return torch.empty(M, batch, cols, device=device)

        w0 = enc[0][0]
        self.enc_in = torch.empty(batch, w0.shape[2], device=device)  # shared by all members
        self.enc0_flat = torch.empty(batch, M * w0.shape[1], device=device)  # (B, M·out)
        self.enc_h = [new(w.shape[1]) for w, _ in enc]  # post-ReLU; the last is (μ, log σ)
        self.dec_in = new(dec[0][0].shape[2])  # z (+ one-hot)
        self.dec_h = [new(w.shape[1]) for w, _ in dec]  # post-ReLU; the last is the logits
        self.enc_g = [new(w.shape[1]) for w, _ in enc]  # gradients w.r.t. those outputs
        self.dec_g = [new(w.shape[1]) for w, _ in dec]
        self.g_z = new(nz)
        self.enc0_g_t = torch.empty(M, w0.shape[1], batch, device=device)  # layer 0's gᵀ
        self.eps_seed = torch.empty(n_seeds, batch, nz, device=device)
        self.eps = new(nz)
        self.sigma = new(nz)
        self.sigma_sq = new(nz)
        self.sigma_eps = new(nz)
        self.kl_terms = new(nz)
        self.onehot = torch.empty(batch, w0.shape[2] - n_pixels, device=device)
        self.neg_x_scaled = torch.empty(batch, n_pixels, device=device)
        # Views made once (each slice or transpose is a Python call of ~2 µs per step).
        self.enc_in_pixels = self.enc_in[:, :n_pixels]
        self.enc_in_onehot = self.enc_in[:, n_pixels:]
        self.z, self.dec_in_onehot = self.dec_in[..., :nz], self.dec_in[..., nz:]
        out = self.enc_h[-1]
        self.mu, self.log_sigma = out[..., :nz], out[..., nz:]
        self.g_mu, self.g_log_sigma = self.enc_g[-1][..., :nz], self.enc_g[-1][..., nz:]
        self.enc_g_t = [g.transpose(1, 2) for g in self.enc_g]
        self.dec_g_t = [g.transpose(1, 2) for g in self.dec_g]
        self.enc0_flat_by_member = self.enc0_flat.view(batch, M, w0.shape[1]).transpose(0, 1)
        self.enc0_g_t_flat = self.enc0_g_t.view(M * w0.shape[1], batch)


class SweepStep:
    """`step(x, y) -> tensor (3, M) of [total, recon, kl]`, leaving each member's gradients in
    the stacked parameters' `.grad`.

    `betas` gives each member its KL weight; `seed_of_member[m]` picks the noise generator
    (`generators[k]`) member m draws its ε from. Members of one seed draw identical ε, exactly
    as separate runs of that seed would, so one draw per seed is shared between them.
    Members listed in `frozen` get zero gradients (a failed member that must not move).

    The parameters' storage is looked up once, here: build this after an optimizer that
    re-points `param.data` (FlatAdam), or call `rebind()`.
    """

    def __init__(self, model: StackedModel, betas: Sequence[float],
                 generators: Sequence[torch.Generator], seed_of_member: Sequence[int]) -> None:
        if len(betas) != model.n_members or len(seed_of_member) != model.n_members:
            raise ValueError(f"need one beta and one seed per member ({model.n_members})")
        if not model.config.is_variational:
            raise ValueError("a sweep step needs a VAE or a CVAE (an AE has no beta)")
        self.model = model
        self.n_members = model.n_members
        self.nz = model.config.nz
        self.n_pixels = model.config.n_pixels
        self.conditional = model.config.is_conditional
        self.device = model.device
        self.generators = list(generators)
        self.seed_of_member = torch.tensor(list(seed_of_member), dtype=torch.long,
                                           device=self.device)
        self.single_seed = len(self.generators) == 1
        self.betas = torch.tensor([float(b) for b in betas], device=self.device)
        self.frozen: set[int] = set()
        self._buffers: dict[int, _Buffers] = {}
        self.rebind()

    def rebind(self) -> None:
        """Re-read the parameters' storage (after an optimizer moved it)."""
        enc, dec = self.model.layers()
        M = self.n_members
        # Per layer: weight (M,out,in), its transpose, bias as (M,1,out), and the gradients.
        self.enc = [(w.detach(), w.detach().transpose(1, 2), b.detach().unsqueeze(1),
                     _grad(w), _grad(b)) for w, b in enc]
        self.dec = [(w.detach(), w.detach().transpose(1, 2), b.detach().unsqueeze(1),
                     _grad(w), _grad(b)) for w, b in dec]
        w0, b0 = enc[0]
        self.w0_flat_t = w0.detach().view(M * w0.shape[1], w0.shape[2]).t()  # (in, M·out)
        self.gw0_flat = _grad(w0).view(M * w0.shape[1], w0.shape[2])
        self.grads = [_grad(p) for p in self.model.params]
        self._buffers.clear()

    @torch.no_grad()
    def __call__(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        b = x.shape[0]
        buf = self._buffers.get(b)
        if buf is None:
            enc, dec = self.model.layers()
            buf = self._buffers[b] = _Buffers(enc, dec, self.n_members, b, self.nz,
                                              self.n_pixels, len(self.generators), self.device)
        x = x.reshape(b, -1)
        nz = self.nz
        M = self.n_members

        # -- forward -----------------------------------------------------------------------
        inp = encoder_input(buf, x, y, self.conditional, self.device)
        # Layer 0 for all members in one matmul: (B, in) × (in, M·out), then member-first.
        w0, _, b0, _, _ = self.enc[0]
        torch.mm(inp, self.w0_flat_t, out=buf.enc0_flat)
        torch.add(buf.enc0_flat_by_member, b0, out=buf.enc_h[0])
        a = buf.enc_h[0]
        if len(self.enc) > 1:
            a.relu_()
        enc_out = _stacked_chain(self.enc[1:], buf.enc_h[1:], a)
        del enc_out
        mu, log_sigma, sigma, sigma_eps = buf.mu, buf.log_sigma, buf.sigma, buf.sigma_eps
        # ε: one draw per seed, shared by that seed's members (a single run of the seed draws
        # exactly this).
        for s, gen in enumerate(self.generators):
            torch.randn((b, nz), generator=gen, device=gen.device, out=buf.eps_seed[s])
        if self.single_seed:
            eps = buf.eps_seed.expand(M, -1, -1)
        else:
            eps = torch.index_select(buf.eps_seed, 0, self.seed_of_member, out=buf.eps)
        torch.exp(log_sigma, out=sigma)
        torch.mul(sigma, eps, out=sigma_eps)
        torch.add(mu, sigma_eps, out=buf.z)
        logits = _stacked_chain(self.dec, buf.dec_h, buf.dec_in)

        # recon = mean BCE = (Σ softplus(l) − Σ x·l) / (B P), per member, with softplus(l) =
        # relu(l) − log σ(|l|) (fast_step._bce_with_grad: softplus has no vectorised CPU kernel;
        # exp and log do); its gradient w.r.t. the logits is (σ(l) − x) / (B P).
        scale = 1.0 / (b * self.n_pixels)
        g_logits = buf.dec_g[-1]
        torch.abs(logits, out=g_logits)  # g_logits as scratch until the gradient goes in
        recon = g_logits.sum((1, 2)).add_(logits.sum((1, 2))).mul_(0.5)
        recon.sub_(torch.sigmoid(g_logits, out=g_logits).log_().sum((1, 2)))
        recon.sub_(torch.mv(logits.view(M, -1), x.reshape(-1))).mul_(scale)
        torch.sigmoid(logits, out=g_logits)
        torch.mul(x, -scale, out=buf.neg_x_scaled)
        torch.add(buf.neg_x_scaled, g_logits, alpha=scale, out=g_logits)
        # KL = 1/B Σ ½(μ² + σ² − 1 − 2 log σ), per member
        sig2 = torch.mul(sigma, sigma, out=buf.sigma_sq)
        terms = torch.addcmul(sig2, mu, mu, out=buf.kl_terms)
        terms.add_(log_sigma, alpha=-2.0)
        kl = terms.sum((1, 2)).mul_(0.5 / b).sub_(0.5 * nz)
        total = torch.addcmul(recon, self.betas, kl)

        # -- backward ----------------------------------------------------------------------
        _stacked_chain_backward(self.dec, buf.dec_h, buf.dec_g, buf.dec_g_t, buf.dec_in,
                                buf.g_z, nz)
        k = (self.betas / b).view(M, 1, 1)
        g_z = buf.g_z
        torch.addcmul(g_z, k, mu, out=buf.g_mu)  # d/dμ = g_z + k μ
        # d/dlog σ = g_z σ ε + k (σ² − 1)
        torch.mul(g_z, sigma_eps, out=buf.g_log_sigma).addcmul_(k, sig2).sub_(k)
        _stacked_chain_backward(self.enc[1:], buf.enc_h[1:], buf.enc_g[1:], buf.enc_g_t[1:],
                                buf.enc_h[0], buf.enc_g[0], None)
        if len(self.enc) > 1:
            _THRESHOLD_BACKWARD(buf.enc_g[0], buf.enc_h[0], 0.0, grad_input=buf.enc_g[0])
        # Layer 0's weight gradient for all members in one matmul: (M·out, B) × (B, in).
        _, _, _, gw0, gb0 = self.enc[0]
        buf.enc0_g_t.copy_(buf.enc_g_t[0])
        torch.mm(buf.enc0_g_t_flat, inp, out=self.gw0_flat)
        torch.sum(buf.enc_g[0], 1, out=gb0)
        for m in self.frozen:
            for g in self.grads:
                g[m].zero_()
        return torch.stack((total, recon, kl))


def _grad(p: nn.Parameter) -> Tensor:
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad


def _stacked_chain(layers, outs: list[Tensor], a: Tensor) -> Tensor:
    """Linear, ReLU, ..., Linear per member into preallocated (M, B, out) outputs."""
    last = len(layers) - 1
    for i, (_, w_t, b, _, _) in enumerate(layers):
        a = torch.baddbmm(b, a, w_t, out=outs[i])
        if i < last:
            a.relu_()
    return a


def _stacked_chain_backward(layers, outs: list[Tensor], grads: list[Tensor],
                            grads_t: list[Tensor], inp: Tensor, inp_grad: Tensor | None,
                            inp_cols: int | None = None) -> None:
    """Backward through a stacked Linear, ReLU, ..., Linear chain, given the last layer's
    output gradient; `inp_grad` (when given) gets the gradient of the first `inp_cols` (all
    when None) input columns, before any ReLU of the input."""
    for i in range(len(layers) - 1, -1, -1):
        w, _, _, gw, gb = layers[i]
        g = grads[i]
        a = outs[i - 1] if i > 0 else inp
        torch.bmm(grads_t[i], a, out=gw)
        torch.sum(g, 1, out=gb)
        if i > 0:
            ga = torch.bmm(g, w, out=grads[i - 1])
            _THRESHOLD_BACKWARD(ga, a, 0.0, grad_input=ga)  # ReLU: zero where a = 0
        elif inp_grad is not None:
            torch.bmm(g, w if inp_cols is None else w[..., :inp_cols], out=inp_grad)


R = TypeVar("R")


def split_members(n_members: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) groups of near-equal size, the smaller ones first (the calling
    thread takes the first group and also runs the loop around the step)."""
    workers = max(1, min(workers, n_members))
    base, extra = divmod(n_members, workers)
    sizes = [base] * (workers - extra) + [base + 1] * extra
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


class _Group:
    """One group of members: its batched step, its generators and its slice of Adam."""

    def __init__(self, model: StackedModel, start: int, stop: int, betas: Sequence[float],
                 seeds: Sequence[int], adam: FlatAdam) -> None:
        self.start, self.stop = start, stop
        sub = model.slice(start, stop)
        own_seeds = list(dict.fromkeys(seeds[start:stop]))
        # Each group draws from its own copies of the seeds' generators: all copies of a seed
        # draw the same numbers in the same order, so every member gets its single run's ε.
        dev = model.device
        self.generators = [torch.Generator(device=dev).manual_seed(s) for s in own_seeds]
        self.step_fn = SweepStep(sub, betas[start:stop], self.generators,
                                 [own_seeds.index(s) for s in seeds[start:stop]])
        self.adam = adam
        self.parts = [[v[start:stop] for v in adam.views(buf)]
                      for buf in (adam.flat, adam.flat_grad, adam.exp_avg, adam.exp_avg_sq)]
        self.frozen: set[int] = set()

    def freeze(self, m: int) -> None:
        """Member m (a global index) stops: zero gradients and moments make Adam leave it."""
        local = m - self.start
        for views in self.parts[1:]:
            for v in views:
                v[local].zero_()
        self.step_fn.frozen.add(local)
        self.frozen.add(m)

    def step(self, x: Tensor, y: Tensor | None) -> tuple[np.ndarray, list[int]]:
        losses = self.step_fn(x, y).cpu().numpy()  # (3, members of this group)
        broken = [self.start + i for i in np.flatnonzero(~np.isfinite(losses).all(axis=0))
                  if self.start + i not in self.frozen]
        for m in broken:  # before Adam: this step's gradient of a broken member is dropped
            self.freeze(m)
        self.adam.update(*self.parts)
        return losses, broken


class MemberGroups:
    """A sweep's training step split into groups of members, one thread per group.

    On a CPU, torch's own threads split each small op of a step across the cores and meet
    after every op; with tens of ops a step, those meetings cost more than the arithmetic, and
    on a machine shared with other work a core that is busy elsewhere stalls every op. Groups
    of whole members need no meeting until the step's end: each thread runs its members'
    batched step and their slice of Adam single-threaded, and the calling thread runs the
    first group. While open, torch runs single-threaded in this process (restored by close()).
    With workers=1 everything runs in the calling thread with torch's threads as they are.
    """

    def __init__(self, model: StackedModel, betas: Sequence[float], seeds: Sequence[int],
                 adam: FlatAdam, workers: int = 1) -> None:
        self.n_members = model.n_members
        self.adam = adam
        self.groups = [_Group(model, a, b, betas, seeds, adam)
                       for a, b in split_members(model.n_members, workers)]
        self.workers = len(self.groups)
        self._threads_before = torch.get_num_threads()
        self._job: Callable[[_Group], object] | None = None
        self._results: list[Any] = [None] * self.workers  # what the last job returned
        self._errors: list[BaseException | None] = [None] * self.workers
        self._go = [threading.Event() for _ in self.groups]
        self._done = [threading.Event() for _ in self.groups]
        self._closed = False
        self._helpers: list[threading.Thread] = []
        if self.workers > 1:
            torch.set_num_threads(1)
            for k in range(1, self.workers):
                t = threading.Thread(target=self._serve, args=(k,), daemon=True,
                                     name=f"sweep-group-{k}")
                t.start()
                self._helpers.append(t)

    def _serve(self, k: int) -> None:
        torch.set_num_threads(1)
        while True:
            self._go[k].wait()
            self._go[k].clear()
            if self._closed:
                return
            try:
                assert self._job is not None  # map() sets it before it wakes this thread
                self._results[k] = self._job(self.groups[k])
            except BaseException as e:  # noqa: BLE001 - handed to the calling thread
                self._errors[k] = e
            self._done[k].set()

    def map(self, job: Callable[[_Group], R]) -> list[R]:
        """job(group) for every group, each in its own thread; results in group order."""
        if self.workers == 1:
            return [job(self.groups[0])]
        self._job = job
        for k in range(1, self.workers):
            self._errors[k] = None
            self._go[k].set()
        try:
            first = job(self.groups[0])
        finally:
            for k in range(1, self.workers):
                self._done[k].wait()
                self._done[k].clear()
        for e in self._errors[1:]:
            if e is not None:
                raise e
        return [first, *self._results[1:]]

    def step(self, x: Tensor, y: Tensor | None = None) -> tuple[np.ndarray, list[int]]:
        """One training step of every member: losses (3, M) as [total, recon, kl], and the
        members whose loss turned non-finite in it (now frozen; Adam left them alone)."""
        self.adam.count_step()
        out = self.map(lambda g: g.step(x, y))
        losses = np.concatenate([o[0] for o in out], axis=1)
        return losses, [m for o in out for m in o[1]]

    def freeze(self, m: int) -> None:
        """Stop member m: from now on its gradient and Adam update are zero."""
        for g in self.groups:
            if g.start <= m < g.stop:
                g.freeze(m)

    @property
    def first_generator(self) -> torch.Generator:
        """The generator of member 0's seed (its single run shuffles with it too)."""
        return self.groups[0].generators[0]

    def advance_epoch(self, n_train: int) -> None:
        """Every generator draws the epoch's permutation, as its single run does at each epoch
        start, so its ε stream stays in step with that run's."""
        for g in self.groups:
            for gen in g.generators:
                torch.randperm(n_train, generator=gen, device=gen.device)

    def close(self) -> None:
        """End the helper threads and give torch its thread count back."""
        if self._closed:
            return
        self._closed = True
        for k in range(1, self.workers):
            self._go[k].set()
        for t in self._helpers:
            t.join(5)
        if self.workers > 1:
            torch.set_num_threads(self._threads_before)


__all__ = ["MemberGroups", "StackedModel", "SweepStep", "split_members"]
