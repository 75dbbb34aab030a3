"""The `conv` architecture: strided convolutions in, transposed convolutions out.

    encoder  C×28×28 → conv 4×4/2 → 32×14×14 → ReLU → conv 4×4/2 → 64×7×7 → ReLU → flatten
             (3,136) [+ one-hot] → dense 256 → ReLU → μ (AE) or μ, log σ (VAE, CVAE)
    decoder  z [+ one-hot] → dense 256 → ReLU → 3,136 → ReLU → 64×7×7 → transposed conv 4×4/2
             → 32×14×14 → ReLU → transposed conv 4×4/2 → P·C×28×28 (the likelihood's P
             parameters per value: the Bernoulli's logits, or a logistic's mean and log-scale)

As many stride-2 stages as the size needs (`stages`): each halves the side while it is above 7
and even, so 28 → 14 → 7 (2 stages), 32 → 16 → 8 → 4 (3), 64 → 32 → 16 → 8 → 4 (4). Channels
double per stage from 32 (capped at 256), or are the config's `conv_widths`.

A 4×4 kernel at stride 2 with padding 1 halves an even side exactly, and its transpose doubles
it back with every output pixel covered by the same number of kernel taps (no checkerboard
from uneven overlap, which 3×3 at stride 2 has). The CVAE's label enters the dense layers, as
the MLP's does, not as 10 constant image channels: the same information at 1/30 of the first
convolution's cost. No batch norm: a model then behaves the same in training and evaluation,
on one drawing or a batch of 1,000.

The interface is `LatentModel`'s (encode, decode_logits, decode, loss, sample, ...): only the
networks differ, so every panel, metric, the timeline and the checkpoints work unchanged.
Trained through autograd (`training/engine/fast_step.py` is for the MLP chain).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from latent_explorer.models.autoencoders import LatentModel, ModelConfig

CHANNELS = (32, 64)  # after the first and the second convolution at 28×28
FIRST_WIDTH, MAX_WIDTH, SMALLEST_SIDE = 32, 256, 7
KERNEL, STRIDE, PADDING = 4, 2, 1


_NATIVE_BF16: dict[str, bool] = {}  # per device type: asked once (every step asks)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: a GPU with bf16, or a CPU with AVX512-BF16
    or AMX (oneDNN's check). Elsewhere bf16 is emulated and slower than float32."""
    known = _NATIVE_BF16.get(device.type)
    if known is None:
        if device.type == "cuda":
            known = torch.cuda.is_bf16_supported()
        elif device.type == "cpu":
            known = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        else:
            known = False
        _NATIVE_BF16[device.type] = known
    return known


def _dense(sizes: list[int], relu_last: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if relu_last or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def stages(height: int, width: int) -> int:
    """Stride-2 stages for an image: halve while both sides are even and above 7."""
    n = 0
    while height > SMALLEST_SIDE and width > SMALLEST_SIDE and height % 2 == 0 and width % 2 == 0:
        height, width, n = height // 2, width // 2, n + 1
    return n


def default_widths(n_stages: int) -> tuple[int, ...]:
    """32, 64, 128, 256, 256, ...: the channels after each stage."""
    return tuple(min(FIRST_WIDTH * 2 ** i, MAX_WIDTH) for i in range(n_stages))


def _convs(widths: list[int], transpose: bool) -> nn.Sequential:
    """Conv (or transposed conv) 4×4/2 layers between `widths`, ReLU between them (none after
    the last of a decoder; one after the last of an encoder)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append((nn.ConvTranspose2d if transpose else nn.Conv2d)(a, b, KERNEL, STRIDE, PADDING))
        if not transpose or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ConvLatentModel(LatentModel):
    """AE, VAE or CVAE (the config's kind) with convolutional encoder and decoder.

    Training steps (train mode, with gradients) run in bfloat16 autocast on a device that has
    bf16 natively and when the architecture's entry says so (`bf16_training`, measured: 1.5×
    the float32 steps/s on an AMX CPU, benchmarks/conv_settings.py); weights, Adam and the
    losses stay float32. Evaluation, sampling and every panel decode in float32.
    """

    def _build(self, config: ModelConfig) -> None:
        c, h, w = config.image_shape
        n = stages(h, w)
        if n == 0:
            raise ValueError(f"the conv architecture needs even image sides above 7, got {h}×{w}")
        widths = config.conv_widths or default_widths(n)
        if len(widths) != n:
            raise ValueError(f"{h}×{w} images take {n} conv stages, but {len(widths)} widths "
                             f"were given ({', '.join(map(str, widths))})")
        side_h, side_w = h >> n, w >> n
        self._grid = (widths[-1], side_h, side_w)  # 64×7×7 for 28×28
        flat = widths[-1] * side_h * side_w
        cond = self.n_conditions
        out_channels = c * config.likelihood_spec.params_per_value
        self.encoder_conv = _convs([c, *widths], transpose=False)
        # The dense layers between the feature map and z are the config's hidden sizes, as the
        # MLP's are (256, 64 by default); the label joins the first of them both ways.
        self.encoder_dense = _dense([flat + cond, *config.hidden, self.encoder_outputs],
                                    relu_last=False)
        self.decoder_dense = _dense([config.nz + cond, *reversed(config.hidden), flat],
                                    relu_last=True)
        self.decoder_conv = _convs([*reversed(widths), out_channels], transpose=True)
        self.bf16_training = config.architecture.precision == "bf16"

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """torch's default init of each layer, drawn from `generator` (no global seed)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                if m.bias is not None:  # every layer here has one
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)

    def _autocast(self, device: torch.device):
        on = (self.bf16_training and self.training and torch.is_grad_enabled()
              and native_bf16(device))
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)

    def _encode_net(self, x: Tensor, one_hot: Tensor | None) -> Tensor:
        n = x.shape[0]
        img = x.reshape(n, *self.config.image_shape)
        with self._autocast(img.device):
            h = self.encoder_conv(img).flatten(1)
            if one_hot is not None:
                h = torch.cat([h, one_hot.to(h.dtype)], dim=1)
            out = self.encoder_dense(h)
        return out.float()

    def _decode_net(self, z: Tensor, one_hot: Tensor | None) -> Tensor:
        with self._autocast(z.device):
            if one_hot is not None:
                z = torch.cat([z, one_hot.to(z.dtype)], dim=1)
            h = self.decoder_dense(z).view(z.shape[0], *self._grid)
            logits = self.decoder_conv(h).reshape(z.shape[0], -1)
        return logits.float()


__all__ = ["CHANNELS", "ConvLatentModel", "default_widths", "native_bf16", "stages"]
