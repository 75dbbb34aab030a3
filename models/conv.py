"""The `conv` architecture: strided convolutions in, transposed convolutions out.

    encoder  1×28×28 → conv 4×4/2 → 32×14×14 → ReLU → conv 4×4/2 → 64×7×7 → ReLU → flatten
             (3,136) [+ one-hot] → dense 256 → ReLU → μ (AE) or μ, log σ (VAE, CVAE)
    decoder  z [+ one-hot] → dense 256 → ReLU → 3,136 → ReLU → 64×7×7 → transposed conv 4×4/2
             → 32×14×14 → ReLU → transposed conv 4×4/2 → 1×28×28 logits

A 4×4 kernel at stride 2 with padding 1 halves 28 → 14 → 7 exactly, and its transpose doubles
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

CHANNELS = (32, 64)  # after the first and the second convolution
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


class ConvLatentModel(LatentModel):
    """AE, VAE or CVAE (the config's kind) with convolutional encoder and decoder.

    Training steps (train mode, with gradients) run in bfloat16 autocast on a device that has
    bf16 natively and when the architecture's entry says so (`bf16_training`, measured: 1.5×
    the float32 steps/s on an AMX CPU, benchmarks/conv_settings.py); weights, Adam and the
    losses stay float32. Evaluation, sampling and every panel decode in float32.
    """

    def _build(self, config: ModelConfig) -> None:
        h, w = config.image_shape
        if h % 4 or w % 4:
            raise ValueError(f"the conv architecture needs image sides divisible by 4, got {h}×{w}")
        c1, c2 = CHANNELS
        self._grid = (c2, h // 4, w // 4)  # 64×7×7 for 28×28
        flat = c2 * (h // 4) * (w // 4)
        cond = self.n_conditions
        self.encoder_conv = nn.Sequential(
            nn.Conv2d(1, c1, KERNEL, STRIDE, PADDING), nn.ReLU(),
            nn.Conv2d(c1, c2, KERNEL, STRIDE, PADDING), nn.ReLU(),
        )
        # The dense layers between the feature map and z are the config's hidden sizes, as the
        # MLP's are (256, 64 by default); the label joins the first of them both ways.
        self.encoder_dense = _dense([flat + cond, *config.hidden, self.encoder_outputs],
                                    relu_last=False)
        self.decoder_dense = _dense([config.nz + cond, *reversed(config.hidden), flat],
                                    relu_last=True)
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, KERNEL, STRIDE, PADDING), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, KERNEL, STRIDE, PADDING),
        )
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
        img = x.reshape(n, 1, *self.config.image_shape)
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


__all__ = ["CHANNELS", "ConvLatentModel", "native_bf16"]
