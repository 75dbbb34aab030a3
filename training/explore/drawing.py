"""Your own digit through the model: MNIST-style preprocessing, encoding, classify, restyle.

Qt-free on purpose (the Draw tab's canvas only draws): an image of any size becomes a 28×28
input the way MNIST digits were made, and the model-side functions run under no_grad, in eval
mode, on the model's device, and return CPU tensors or numpy arrays.

MNIST's recipe (LeCun, Cortes & Burges, "The MNIST database"): the NIST digits "were size
normalized to fit in a 20x20 pixel box while preserving their aspect ratio. The resulting images
contain grey levels as a result of the anti-aliasing technique used by the normalization
algorithm. The images were centered in a 28x28 image by computing the center of mass of the
pixels, and translating the image so as to position this point at the center of the 28x28 field."
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from latent_explorer.models.autoencoders import LatentModel, Posterior, gaussian_kl
from latent_explorer.training.explore.render import to_numpy_images

SIZE = 28  # the output field
BOX = 20  # the box the ink's bounding box is scaled to fit
# Where the centre of mass goes, in pixel-index coordinates. Measured on the bundled sample's
# 500 test digits: mean 14.00 (rows) / 13.99 (columns), std 0.29, which is what translating by
# whole pixels to put it at index 14 gives (a uniform ±0.5 error has std 0.29).
CENTRE = 14.0
MIN_CONTRAST = 0.1  # darkest-to-brightest spread below this: no ink, only background
INK_THRESHOLD = 0.1  # normalised grey above this counts for the bounding box (below: noise)
SCORE_METHODS = ("mean", "elbo", "iwae")
# A drawing "doesn't fit" when its reconstruction error is this many times the run's test BCE.
# The bundled sample's 500 test digits stay below 1.6× their mean BCE (course-default VAE and
# CVAE, 3 epochs: 95th percentile 1.33×), so 2× flags only inputs unlike every test digit.
MISFIT_FACTOR = 2.0


class DrawingError(Exception):
    """An image that cannot be used (unreadable, empty, wrong shape); the message is one line."""


# -- preprocessing ------------------------------------------------------------------------------
def to_grey(image: np.ndarray) -> np.ndarray:
    """Grey levels in [0, 1] (float64 H×W) from a grey, RGB or RGBA array (uint8 or float).

    Alpha is composited on white when the visible pixels are dark (black ink on a transparent
    sheet) and on black when they are bright (white ink), so either kind of drawing keeps its
    strokes. Float input above 1 is read as 0-255; integers are scaled by their dtype's maximum.
    """
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.float64)
    elif np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise DrawingError("the image has NaN or infinite values")
        if a.size and a.max() > 1.0:
            a = a / 255.0
    else:
        raise DrawingError(f"expected a numeric image array, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        grey, alpha = a, None
    elif a.ndim == 3 and a.shape[2] in (2, 3, 4):
        c = a.shape[2]
        colour = a[:, :, : (1 if c == 2 else 3)]
        alpha = a[:, :, -1] if c in (2, 4) else None
        # ITU-R 601-2 luma, as PIL's convert("L")
        grey = colour[:, :, 0] if c == 2 else colour @ np.array([0.299, 0.587, 0.114])
    else:
        raise DrawingError(f"expected a grey H×W or an H×W×3/4 colour image, got shape {a.shape}")
    if grey.shape[0] < 1 or grey.shape[1] < 1:
        raise DrawingError(f"the image has no pixels (shape {a.shape})")
    grey = np.clip(grey, 0.0, 1.0)
    if alpha is not None:
        alpha = np.clip(alpha, 0.0, 1.0)
        total = alpha.sum()
        if total <= 0:
            raise DrawingError("the image is empty (fully transparent)")
        sheet = 1.0 if (grey * alpha).sum() / total < 0.5 else 0.0
        grey = grey * alpha + sheet * (1.0 - alpha)
    return grey


def _border(g: np.ndarray) -> np.ndarray:
    return np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]])


def ink_image(image: np.ndarray) -> np.ndarray:
    """Ink as 1 and background as 0 (float64 H×W): grey, inverted if the border is light,
    stretched so the background is 0 and the strongest ink 1. Empty → DrawingError."""
    g = to_grey(image)
    # The border is mostly background whatever the drawing: its median decides which is which.
    bg = float(np.median(_border(g)))
    if bg > 0.5:
        g, bg = 1.0 - g, 1.0 - bg
    peak = float(g.max())
    if peak - bg < MIN_CONTRAST:
        raise DrawingError("the image is empty (no ink on it)")
    return np.clip((g - bg) / (peak - bg), 0.0, 1.0)


def preprocess(image: np.ndarray, threshold: float = INK_THRESHOLD, whole_pixels: bool = False) -> np.ndarray:
    """A 28×28 float32 image in [0, 1], made from `image` the way MNIST digits were made.

    Ink's bounding box (pixels above `threshold`) scaled to fit 20×20 keeping the aspect ratio,
    then placed so its centre of mass lands on pixel (14, 14): exactly (a sub-pixel shift), or
    to the nearest whole pixel as MNIST did with `whole_pixels`. Sub-pixel is the default
    because it is never more than half a pixel from where MNIST would have put the digit,
    whereas rounding the re-drawn digit's own centre can land a whole pixel off it. Scaling
    and placing is one resampling of the source (PIL's area-averaging BOX filter when
    shrinking, anti-aliasing by pixel coverage; bilinear when growing).
    """
    from PIL import Image  # imported late: start-up of the CLI and the GUI stays fast

    ink = ink_image(image)
    mask = ink > threshold
    if not mask.any():
        raise DrawingError("the image is empty (no ink on it)")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = ink[r0:r1, c0:c1]
    h, w = crop.shape
    s = BOX / max(h, w)  # output pixels per source pixel
    # Centre of mass of the crop in continuous coordinates (pixel i spans [i, i + 1]).
    mass = crop.sum()
    cy = float(crop.sum(axis=1) @ (np.arange(h) + 0.5)) / mass
    cx = float(crop.sum(axis=0) @ (np.arange(w) + 0.5)) / mass
    # Where the crop's top-left corner goes in the output, in whole pixels (MNIST's translation),
    # so that the centre of mass (continuous cy·s) lands at index 14, i.e. continuous 14.5.
    oy = CENTRE + 0.5 - cy * s
    ox = CENTRE + 0.5 - cx * s
    if whole_pixels:
        oy, ox = round(oy), round(ox)
    # The output's 28×28 field seen from the crop: [−o/s, (28 − o)/s] on each axis. PIL's box
    # must lie inside the source, so pad the crop with background where the field overhangs it.
    y0, y1 = -oy / s, (SIZE - oy) / s
    x0, x1 = -ox / s, (SIZE - ox) / s
    top, left = max(0, math.ceil(-y0)), max(0, math.ceil(-x0))
    bottom, right = max(0, math.ceil(y1 - h)), max(0, math.ceil(x1 - w))
    padded = np.pad(crop.astype(np.float32), ((top, bottom), (left, right)))
    src = Image.fromarray(padded)  # float32 → mode "F"
    resample = Image.Resampling.BOX if s < 1 else Image.Resampling.BILINEAR
    out = src.resize((SIZE, SIZE), resample, box=(x0 + left, y0 + top, x1 + left, y1 + top))
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


# -- reading inputs -----------------------------------------------------------------------------
def load_image(path: str | Path) -> np.ndarray:
    """The pixels of a PNG/JPEG/… file as uint8 H×W (grey) or H×W×4 (with transparency)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)  # phone photos are stored sideways
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float grey
                a = np.asarray(img, dtype=np.float64)
                top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
                return (np.clip(a / top, 0, 1) * 255 + 0.5).astype(np.uint8)
            has_alpha = "A" in img.mode or "transparency" in img.info
            return np.asarray(img.convert("RGBA" if has_alpha else "L"))
    except FileNotFoundError:
        raise DrawingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DrawingError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise DrawingError(f"{path}: not an image file PIL can read") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt files
        raise DrawingError(f"{path}: cannot read the image ({e})") from None


def load_array(path: str | Path) -> np.ndarray:
    """A .npy input: one H×W image, or an N×28×28 or N×1×28×28 stack (`sample --out x.npy`)."""
    a = load_any_array(path)
    if a.ndim == 2 and min(a.shape) >= 1:
        return a
    if a.ndim == 4 and a.shape[1] == 1:  # (N, 1, H, W), as `sample --out x.npy` writes
        a = a[:, 0]
    if a.ndim == 3 and a.shape[1:] == (SIZE, SIZE) and a.shape[0] >= 1:
        return a
    raise DrawingError(f"{path}: expected an H×W image or an N×28×28 (or N×1×28×28) stack, "
                       f"got shape {a.shape}")


# -- images for models that are not 28×28 grey digits (colour, or another size) -----------------
def fit_image(img: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """`img` as a model of `image_shape` (C, H, W) takes it: float32 (C, H, W) in [0, 1].

    For photographs and sprites, not digits (no MNIST recipe): the same rule as the training
    data's own resizing (training/data/resize.py, torchvision's Resize then CenterCrop): the
    image is scaled, aspect kept, to cover H×W (PIL's antialiased bilinear), then its centre
    H×W is kept; RGB becomes grey by PIL's ITU-R 601-2 luma, grey is copied to RGB, and a
    transparent image is put on black (the datasets' background). `img` is H×W grey, H×W×3
    RGB or H×W×4 RGBA, uint8 or float in [0, 1] (or 0-255).
    """
    from PIL import Image

    c, h, w = (int(s) for s in image_shape)
    if c not in (1, 3):
        raise DrawingError(f"a model of {c} channels takes no image files")
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or min(a.shape[:2]) < 1:
        raise DrawingError(f"expected a grey H×W or an H×W×3/4 colour image, got shape {a.shape}")
    if a.dtype != np.uint8:
        f = np.asarray(a, np.float64)
        if not np.isfinite(f).all():
            raise DrawingError("the image has NaN or infinite values")
        if f.size and f.max() > 1.0:
            f = f / 255.0
        a = (np.clip(f, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    pic = Image.fromarray(a)
    if pic.mode == "RGBA":
        black = Image.new("RGBA", pic.size, (0, 0, 0, 255))
        pic = Image.alpha_composite(black, pic)
    pic = pic.convert("L" if c == 1 else "RGB")
    scale = max(w / pic.width, h / pic.height)
    new_w, new_h = max(w, round(pic.width * scale)), max(h, round(pic.height * scale))
    if (new_w, new_h) != pic.size:
        pic = pic.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top, left = (new_h - h) // 2, (new_w - w) // 2
    pic = pic.crop((left, top, left + w, top + h))
    out = np.asarray(pic, np.float32) / 255.0
    return np.ascontiguousarray(out[None] if c == 1 else out.transpose(2, 0, 1))


def load_fitted_image(path: str | Path, image_shape: tuple[int, ...]) -> np.ndarray:
    """An image file (PNG, JPEG, …) as a model of `image_shape` takes it (`fit_image`): float32
    (C, H, W) in [0, 1]. Colour is kept (load_image reads digits, in grey); errors name the file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as pic:
            pic = ImageOps.exif_transpose(pic)  # phone photos are stored sideways
            if pic.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float grey
                a = load_image(path)
            else:
                has_alpha = "A" in pic.mode or "transparency" in pic.info
                a = np.asarray(pic.convert("RGBA" if has_alpha else "RGB"))
    except FileNotFoundError:
        raise DrawingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DrawingError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise DrawingError(f"{path}: not an image file PIL can read") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt files
        raise DrawingError(f"{path}: cannot read the image ({e})") from None
    return fit_image(a, image_shape)


def read_inputs(path: str | Path, raw: bool = False) -> list[np.ndarray]:
    """28×28 float32 inputs from an image file or a .npy, preprocessed unless `raw`.

    `raw` takes 28×28 images as they are (already MNIST-style, e.g. decoded samples) and
    refuses any other size. Errors name the file.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        a = load_array(path)
        images = list(a) if a.ndim == 3 else [a]
    else:
        images = [load_image(path)]
    out = []
    for i, img in enumerate(images):
        where = f"{path}[{i}]" if len(images) > 1 else str(path)
        try:
            if raw:
                if img.shape != (SIZE, SIZE):
                    raise DrawingError(f"raw input must be 28×28, got {img.shape}")
                out.append(to_grey(img).astype(np.float32))
            else:
                out.append(preprocess(img))
        except DrawingError as e:
            raise DrawingError(f"{where}: {e}") from None
    return out


def read_input_files(paths: list[str | Path], raw: bool = False) -> tuple[list[str], np.ndarray]:
    """Names ('file', or 'file[i]' for a stack) and the (n, 28, 28) inputs of many files."""
    names: list[str] = []
    images: list[np.ndarray] = []
    for path in paths:
        got = read_inputs(path, raw)
        names += [str(path)] if len(got) == 1 else [f"{path}[{i}]" for i in range(len(got))]
        images += got
    return names, np.stack(images) if images else np.zeros((0, SIZE, SIZE), np.float32)


def read_model_inputs(image_shape: tuple[int, ...], paths: list[str | Path],
                      raw: bool = False) -> tuple[list[str], np.ndarray]:
    """Names and the inputs of many files for a model of `image_shape` (C, H, W): grey 28×28
    digits the MNIST way (`read_input_files`, (n, 28, 28)); any other model's images fitted to
    its size and colour (`load_fitted_image`, (n, C, H, W)). A .npy for such a model holds one
    (C, H, W) image or an (N, C, H, W) stack of its shape, in [0, 1]."""
    shape = tuple(int(s) for s in image_shape)
    if shape == (1, SIZE, SIZE):
        return read_input_files(paths, raw)
    names: list[str] = []
    images: list[np.ndarray] = []
    for path in paths:
        path = Path(path)
        if path.suffix.lower() == ".npy":
            a = load_any_array(path)
            stack = a[None] if a.shape == shape else a
            if stack.ndim != 4 or stack.shape[1:] != shape or len(stack) == 0:
                raise DrawingError(f"{path}: expected a {'×'.join(map(str, shape))} image or an "
                                   f"N×{'×'.join(map(str, shape))} stack, got shape {a.shape}")
            got = list(np.clip(stack.astype(np.float32), 0.0, 1.0))
        else:
            got = [load_fitted_image(path, shape)]
        names += [str(path)] if len(got) == 1 else [f"{path}[{i}]" for i in range(len(got))]
        images += got
    return names, np.stack(images) if images else np.zeros((0, *shape), np.float32)


def load_any_array(path: str | Path) -> np.ndarray:
    """A numeric .npy array of any shape; DrawingError naming the file otherwise."""
    path = Path(path)
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DrawingError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as e:
        raise DrawingError(f"{path}: not a readable .npy array ({e})") from None
    if not isinstance(a, np.ndarray) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise DrawingError(f"{path}: expected a numeric array, got {getattr(a, 'dtype', type(a))}")
    return a


# -- the model's side ---------------------------------------------------------------------------
@contextmanager
def _eval_mode(model: LatentModel) -> Iterator[None]:
    """Eval mode for the call, then the mode it had (it may be training in another thread)."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def _batch(model: LatentModel, x: np.ndarray | Tensor) -> Tensor:
    """(n, n_pixels) float on the model's device from one image or a stack of them: (C, H, W)
    or (n, C, H, W); for grey images also (H, W) and (n, H, W); or flat rows of C·H·W."""
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    n_pix = model.config.n_pixels
    c, h, w = model.config.image_shape
    dims = tuple(t.shape)
    ok = ((dims[-3:] == (c, h, w) and t.dim() <= 4)
          or (c == 1 and dims[-2:] == (h, w) and t.dim() <= 3)
          or (t.dim() == 2 and dims[1] == n_pix) or (t.dim() == 1 and t.numel() == n_pix))
    if not ok or t.numel() == 0:
        want = f"{h}×{w}" if c == 1 else f"{c}×{h}×{w}"
        raise DrawingError(f"expected {want} images, got shape {dims}")
    return t.reshape(-1, n_pix).to(model.device, torch.get_default_dtype())


def _labels(model: LatentModel, label: int | np.ndarray | Tensor | None, n: int) -> Tensor:
    """A LongTensor (n,) of labels on the model's device."""
    y = torch.as_tensor(np.asarray(label, dtype=np.int64)).reshape(-1)
    if y.numel() == 1:
        y = y.expand(n)
    if y.numel() != n:
        raise DrawingError(f"expected {n} labels, got {y.numel()}")
    c = model.config.n_classes
    if int(y.min()) < 0 or int(y.max()) >= c:
        raise DrawingError(f"class label must be in 0..{c - 1}, got {y.tolist()}")
    return y.to(model.device)


def _require_cvae(model: LatentModel, what: str) -> None:
    if not model.config.is_conditional:
        raise DrawingError(f"{what} needs a CVAE; this is a {model.config.kind.upper()}")




def _label_scores(model: LatentModel, x: Tensor, method: str, k: int, seed: int,
                  errors: list | None = None) -> tuple[Tensor, Posterior, Tensor]:
    """ELBO per (image, label), the posteriors and posterior-mean logits of all n·C pairs.

    `errors`, when given a list, gets the scores' Monte-Carlo standard errors (n, C) appended
    (zeros for 'mean', which draws nothing; the k samples' spread for 'elbo'; the jackknife
    over them for 'iwae').

    Rows are image-major: pair (i, c) is row i·C + c. All ten labels go through the encoder and
    decoder in one batch: at these layer sizes per-call overhead dominates, so ten rows cost
    about three times one row on a CPU, not ten (benchmarks/draw_core_latency.py).
    """
    c = model.config.n_classes
    n = x.shape[0]
    xr = x.repeat_interleave(c, dim=0)
    y = torch.arange(c, device=x.device).repeat(n)
    post = model.encode(xr, y)
    assert post.log_sigma is not None  # a conditional kind is variational
    logits = model.decode_logits(post.mean, y)
    kl = gaussian_kl(post.mean.float(), post.log_sigma.float())
    if method == "mean":
        score = model.log_px(logits, xr).float() - kl
    else:
        # Common random numbers: the same k fixed-seed ε for every image and label, so score
        # differences between labels come from the labels, not from different noise.
        gen = torch.Generator().manual_seed(int(seed))
        eps = torch.randn((k, 1, model.config.nz), generator=gen).to(x.device, post.mean.dtype)
        sigma = torch.exp(post.log_sigma)
        z = post.mean.unsqueeze(0) + sigma.unsqueeze(0) * eps  # (k, n·C, nz)
        log_px = model.log_px(model.decode_logits(z.reshape(-1, z.shape[-1]), y.repeat(k)),
                              xr.repeat(k, 1)).float().view(k, -1)
        if method == "elbo":
            score = log_px.mean(dim=0) - kl
            if errors is not None:
                sd = log_px.double().std(dim=0) if k > 1 else torch.zeros_like(kl, dtype=torch.float64)
                errors.append((sd / math.sqrt(k)).view(n, c))
        else:  # iwae: log (1/k) Σ p(x|z) p(z) / q(z|x), Burda et al. 2016, eq. 8
            # log p(z) − log q(z|x): the 2π terms cancel, and (z − μ)/σ is ε.
            log_ratio = (-0.5 * z.pow(2) + 0.5 * eps.pow(2) + post.log_sigma.unsqueeze(0)).sum(-1)
            score = torch.logsumexp(log_px + log_ratio.float(), dim=0) - math.log(k)
            if errors is not None:
                from latent_explorer.training.metrics.evaluate import jackknife_var

                log_w = (log_px + log_ratio.float()).double()
                var = jackknife_var(log_w) if k > 1 else torch.zeros_like(log_w[0])
                errors.append(var.sqrt().view(n, c))
    if method == "mean" and errors is not None:
        errors.append(torch.zeros(n, c, dtype=torch.float64))
    return score.view(n, c), post, logits


def _check_method(method: str, k: int) -> None:
    if method not in SCORE_METHODS:
        raise ValueError(f"unknown score method {method!r}; choose one of {', '.join(SCORE_METHODS)}")
    if method != "mean" and k < 1:
        raise ValueError(f"method {method!r} needs k >= 1 samples, got {k}")


def classify_batch(model: LatentModel, x: np.ndarray | Tensor, method: str = "mean", k: int = 16,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Best labels (n,) and scores in nats (n, classes) of a CVAE for each image.

    A CVAE is a classifier by Bayes' rule: with a uniform prior over labels, p(y | x) ∝ p(x | y),
    and the ELBO with label y is the model's (lower-bound) estimate of log p(x | y).
    `method`: 'mean' (default) scores log p(x | μ, y) − KL, the reconstruction term at the
    posterior mean (deterministic, one decode per label, and the same decode as the run list's
    BCE; not the ELBO: decoding the mean code reconstructs better than a sample, so it is a few
    nats above the ELBO, 4–8 on the course CVAE); 'elbo' averages log p(x | z, y) over k fixed-seed samples z = μ + σ·ε − KL (the true
    ELBO, estimated); 'iwae' is the k-sample importance-weighted bound, tighter than the ELBO.
    """
    _require_cvae(model, "classifying")
    _check_method(method, k)
    with _eval_mode(model):
        scores, _, _ = _label_scores(model, _batch(model, x), method, k, seed)
    s = scores.double().cpu().numpy()
    return s.argmax(axis=1), s


def classify_with_errors(model: LatentModel, x: np.ndarray | Tensor, method: str = "elbo",
                         k: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`classify_batch` and the scores' Monte-Carlo standard errors (n, classes), in nats."""
    _require_cvae(model, "classifying")
    _check_method(method, k)
    errors: list = []
    with _eval_mode(model):
        scores, _, _ = _label_scores(model, _batch(model, x), method, k, seed, errors)
    s = scores.double().cpu().numpy()
    return s.argmax(axis=1), s, errors[0].cpu().numpy()


def classify(model: LatentModel, x28: np.ndarray | Tensor, method: str = "mean", k: int = 16,
             seed: int = 0) -> tuple[int, np.ndarray]:
    """The CVAE's guess for one image and the ELBO score (nats) of each label; see classify_batch."""
    best, scores = classify_batch(model, x28, method, k, seed)
    if len(best) != 1:
        raise DrawingError(f"classify takes one image, got {len(best)}")
    return int(best[0]), scores[0]


def label_probabilities(scores: np.ndarray) -> np.ndarray:
    """softmax of ELBO scores: p(y | x) under a uniform label prior, if the bound were tight."""
    s = np.asarray(scores, dtype=np.float64)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _resolve_labels(model: LatentModel, x: Tensor, label) -> Tensor | None:
    """None for AE/VAE (a label is an error); the given or the guessed labels for a CVAE."""
    if not model.config.is_conditional:
        if label is not None:
            raise DrawingError(f"a {model.config.kind.upper()} takes no class label")
        return None
    if label is None:
        scores, _, _ = _label_scores(model, x, "mean", 0, 0)
        return scores.argmax(dim=1)
    return _labels(model, label, x.shape[0])


def encode_image(model: LatentModel, x28: np.ndarray | Tensor, label=None) -> Posterior:
    """Posterior (mean, log σ or None) of one image or a stack, as (n, nz) CPU tensors.

    A CVAE is encoded with `label` (an int or one per image), or with its own guess.
    """
    with _eval_mode(model):
        x = _batch(model, x28)
        post = model.encode(x, _resolve_labels(model, x, label))
    ls = None if post.log_sigma is None else post.log_sigma.float().cpu()
    return Posterior(post.mean.float().cpu(), ls)


def reconstruction_errors(model: LatentModel, x: np.ndarray | Tensor, label=None) -> np.ndarray:
    """−log p(x|z) per value of decode(posterior mean) for each image (n,) (per-pixel BCE for
    the Bernoulli): the run list's test BCE."""
    with _eval_mode(model):
        xb = _batch(model, x)
        y = _resolve_labels(model, xb, label)
        out = model.decode_logits(model.encode(xb, y).mean, y)
        errors = model.recon_error(out, xb)
    return errors.double().cpu().numpy()


def reconstruction_error(model: LatentModel, x28: np.ndarray | Tensor, label: int | None = None) -> float:
    """Per-pixel BCE of one image's posterior-mean reconstruction (a CVAE: label or its guess)."""
    e = reconstruction_errors(model, x28, label)
    if len(e) != 1:
        raise DrawingError(f"reconstruction_error takes one image, got {len(e)}")
    return float(e[0])


def restyle_batch(model: LatentModel, x: np.ndarray | Tensor, label=None) -> np.ndarray:
    """(n, classes, H, W[, 3]) display arrays in [0, 1]: each image's z (posterior mean with its label, or the
    model's guess) decoded with every class label, so the style stays and the class changes."""
    _require_cvae(model, "restyling")
    c = model.config.n_classes
    with _eval_mode(model):
        xb = _batch(model, x)
        y = _resolve_labels(model, xb, label)
        z = model.encode(xb, y).mean
        out = model.decode(z.repeat_interleave(c, dim=0), torch.arange(c, device=z.device).repeat(len(z)))
    shown = to_numpy_images(out)
    return shown.reshape(len(z), c, *shown.shape[1:])


def restyle(model: LatentModel, x28: np.ndarray | Tensor, label: int | None = None) -> np.ndarray:
    """(classes, H, W[, 3]): one image's style decoded as every class; see restyle_batch."""
    out = restyle_batch(model, x28, label)
    if len(out) != 1:
        raise DrawingError(f"restyle takes one image, got {len(out)}")
    return out[0]


def nearest_codes(codes: Tensor, z: Tensor, k: int = 5) -> np.ndarray:
    """Indices of the k codes (N, nz) nearest z (nz,) in Euclidean distance, nearest first."""
    codes = torch.as_tensor(codes)
    z = torch.as_tensor(z).to(codes.device, codes.dtype).reshape(1, -1)
    if codes.dim() != 2 or codes.shape[1] != z.shape[1]:
        raise ValueError(f"codes {tuple(codes.shape)} and z {tuple(z.shape)} have different sizes")
    k = min(int(k), codes.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    d = (codes - z).pow(2).sum(dim=1)  # N·nz flops: ~0.1 ms for 10,000 × 32
    return torch.topk(d, k, largest=False, sorted=True).indices.cpu().numpy()


def fits(error: float, test_bce: float | None, factor: float = MISFIT_FACTOR) -> bool:
    """False when a per-pixel BCE is over `factor` times the run's test BCE (True if unknown)."""
    if test_bce is None or not math.isfinite(test_bce) or test_bce <= 0:
        return True
    return error <= factor * test_bce


# -- everything the Draw tab shows, in one pass ------------------------------------------------
@dataclass(frozen=True)
class DrawingAnalysis:
    """What the model makes of one 28×28 input; the CVAE-only fields are None otherwise."""

    image: np.ndarray  # (H, W) grey or (H, W, 3) colour: the input
    mean: np.ndarray  # (nz,) posterior mean (the code)
    log_sigma: np.ndarray | None  # (nz,) VAE/CVAE
    reconstruction: np.ndarray  # as image: decode(mean), the likelihood's mean
    error: float  # −log p(x|z) per value (per-pixel BCE) of the reconstruction
    label: int | None  # the label it was encoded with (CVAE): given, else the guess
    guess: int | None  # the CVAE's best label by ELBO
    scores: np.ndarray | None  # (classes,) ELBO in nats per label
    restyled: np.ndarray | None  # (classes, H, W[, 3]) the same z decoded with every label


def analyse(model: LatentModel, x28: np.ndarray | Tensor, label: int | None = None,
            method: str = "mean", k: int = 16) -> DrawingAnalysis:
    """Encode, reconstruct, score and (CVAE) classify and restyle one image, sharing the work.

    For a CVAE, the ten-label batch that scores the labels already holds the posterior and the
    reconstruction for every label, so the only extra work is the ten restyling decodes.
    """
    _check_method(method, k)
    with _eval_mode(model):
        x = _batch(model, x28)
        if x.shape[0] != 1:
            raise DrawingError(f"analyse takes one image, got {x.shape[0]}")
        if not model.config.is_conditional:
            if label is not None:
                raise DrawingError(f"a {model.config.kind.upper()} takes no class label")
            post = model.encode(x)
            logits = model.decode_logits(post.mean)
            mean, log_sigma = post.mean[0], post.log_sigma
            guess = scores = restyled = None
            used = None
        else:
            scores_t, post, logits_all = _label_scores(model, x, method, k, 0)
            guess = int(scores_t[0].argmax())
            used = guess if label is None else int(_labels(model, label, 1)[0])
            mean = post.mean[used]
            assert post.log_sigma is not None  # a conditional kind is variational
            log_sigma = post.log_sigma[used : used + 1]
            logits = logits_all[used : used + 1]
            c = model.config.n_classes
            styles = model.decode(mean.expand(c, -1), torch.arange(c, device=x.device))
            restyled = to_numpy_images(styles)
            scores = scores_t[0].double().cpu().numpy()
        error = float(model.recon_error(logits, x)[0])
        recon = to_numpy_images(model.mean_image(logits))[0]
    return DrawingAnalysis(
        image=to_numpy_images(x, model.config.image_shape)[0], mean=mean.float().cpu().numpy(),
        log_sigma=None if log_sigma is None else log_sigma[0].float().cpu().numpy(),
        reconstruction=recon, error=error, label=used, guess=guess, scores=scores,
        restyled=restyled)


__all__ = [
    "BOX", "CENTRE", "MISFIT_FACTOR", "SCORE_METHODS", "SIZE", "DrawingAnalysis", "DrawingError", "analyse",
    "classify", "classify_batch", "encode_image", "fit_image", "fits", "ink_image",
    "label_probabilities", "load_array", "load_fitted_image", "load_image", "nearest_codes", "preprocess", "read_input_files", "read_inputs",
    "reconstruction_error", "reconstruction_errors", "restyle", "restyle_batch", "to_grey",
]
