"""2-D maps of latent codes by PCA, UMAP or t-SNE, placing new codes on them, their quality,
and their cache beside a checkpoint. Qt-free: the Latent map tab, the Draw tab, `main.py map`
and benchmarks/map_quality.py share it.

PCA keeps the global variance and is instant; UMAP (McInnes et al. 2018, umap-learn) and t-SNE
(van der Maaten & Hinton 2008, openTSNE) keep neighbourhoods, at tens of seconds for 10,000
codes on two cores. umap-learn and openTSNE are imported inside the fit functions only: the
window must open before these heavy imports (numba, pynndescent).

A method is one `register_map_method` entry (a `MapMethod`): its parameters as `ParamSpec`s
(the window builds its controls from them), whether it needs a worker thread, a seed, how a
cached map's transform is rebuilt and the caption's words. The picker, the CLI's --method
choices and the benchmark read the registry.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from latent_explorer.models.registries import Registry

Progress = Callable[[float, str], None]  # (fraction done 0-1, what it is doing)
ShouldStop = Callable[[], bool]

TRUSTWORTHINESS_K = 10  # neighbours for sklearn.manifold.trustworthiness (issue 20's figure)
CACHE_SUFFIX = ".maps.npz"  # beside the checkpoint: run.safetensors -> run.maps.npz
CACHE_VERSION = 1
MAX_CACHED_MAPS = 16  # per cache file: older entries are dropped when a new one is written


class MapCancelled(Exception):
    """The fit was asked to stop (Cancel, a new request, the window closing)."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a map method, as data: the window builds its control from this (label,
    range, step, tooltip) and the cache key and caption name it, so a method's parameters live
    in its registry entry only."""

    name: str  # the key in MapParams, e.g. "n_neighbors"
    label: str  # the control's label in the window, e.g. "neighbours"
    kind: type  # int or float: the control (a spin box of either) and the value's type
    default: float
    low: float
    high: float
    tooltip: str
    step: float = 1.0  # a float control's single step (an int's is 1)
    decimals: int = 2  # a float control's decimals; values are rounded to 4 places

    def coerce(self, value: Any) -> int | float:
        """The value as this parameter's type (a float rounded to 4 places, as the control
        shows it: the cache key of 0.1 and of 0.1000000001 must be one)."""
        return int(value) if self.kind is int else round(float(value), 4)


_NO_VALUE: Any = object()


class MapParams:
    """Parameter values by name (`ParamSpec.name`) and the seed; immutable and hashable.

    A method reads the values its specs name (`params.get`, or `params.perplexity`); a value
    not given is the spec's default, so `MapParams()` is every method's defaults.
    """

    __slots__ = ("seed", "_values")
    seed: int
    _values: dict[str, Any]

    def __init__(self, seed: int = 0, **values: Any) -> None:
        object.__setattr__(self, "seed", int(seed))
        object.__setattr__(self, "_values", dict(sorted(values.items())))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MapParams is immutable: make a new one")

    @property
    def values(self) -> dict[str, Any]:
        """The values given (not the defaults), by name."""
        return dict(self._values)

    def get(self, name: str, default: Any = _NO_VALUE) -> Any:
        """The value of `name`: the one given, else `default`, else the default of a registered
        spec of that name; KeyError when there is none."""
        if name in self._values:
            return self._values[name]
        if default is not _NO_VALUE:
            return default
        spec = _spec_named(name)
        if spec is None:
            raise KeyError(f"no map parameter {name!r}")
        return spec.default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.get(name)
        except KeyError:
            raise AttributeError(f"no map parameter {name!r}") from None

    def used_by(self, method: str) -> dict[str, Any]:
        """The parameters `method` reads, each as its type, and the seed unless it is
        deterministic: its cache key and caption."""
        m = get_map_method(method)
        used: dict[str, Any] = {s.name: s.coerce(self._values.get(s.name, s.default)) for s in m.params}
        if not m.deterministic:
            used["seed"] = self.seed
        return used

    def _key(self) -> tuple:
        return (self.seed, tuple(self._values.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MapParams) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"MapParams(seed={self.seed}{', ' if inner else ''}{inner})"


Placer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MapMethod:
    """One way to draw codes in 2-D: what it keeps, its parameters, what it costs, how it fits.

    Everything the window, the CLI and the cache need to know of a method is here, so a new
    method is one `register_map_method` call.
    """

    name: str
    label: str
    keeps: str  # one line for the picker's tooltip and the README
    params: tuple[ParamSpec, ...]  # what it reads from MapParams (the window's controls)
    fit: Callable[..., "FittedMap"]  # (codes, params, progress, should_stop) -> FittedMap
    background: bool  # True: too slow for the GUI thread (a worker fits it; its maps are cached)
    deterministic: bool = False  # True: no seed (the window greys the seed out; keys omit it)
    # Rebuilds the transform of a map read from the cache: (codes, fitted) -> placer. None:
    # such a map places new codes by their neighbours' mean (`neighbour_place`) only.
    warm: Callable[[np.ndarray, "FittedMap"], Placer] | None = None
    how: str = ""  # the caption's words for how the map was made ("laid out by UMAP (…)")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.params)

    @property
    def has_settings(self) -> bool:
        """Whether anything can be set for it (parameters or a seed): Apply refits it."""
        return bool(self.params) or not self.deterministic

    def caption_how(self) -> str:
        return self.how or f"mapped by {self.label}"


MAP_METHODS: Registry[MapMethod] = Registry("map method")


def register_map_method(method: MapMethod) -> MapMethod:
    return MAP_METHODS.register(method.name, method)


def get_map_method(name: str) -> MapMethod:
    return MAP_METHODS.get(name)


def map_method_names() -> tuple[str, ...]:
    return MAP_METHODS.names()


def default_method() -> str:
    """The first registered method: the map every tab draws itself until another is fitted."""
    return MAP_METHODS.names()[0]


def _spec_named(name: str) -> ParamSpec | None:
    """The first registered method's spec called `name` (its default), None if none has it."""
    for m in MAP_METHODS.values():
        for spec in m.params:
            if spec.name == name:
                return spec
    return None


@dataclass(eq=False)
class FittedMap:
    """Codes placed in 2-D by `method`, and how to place new codes on the same map.

    `placer(z) -> (n, 2)` is the method's own transform (PCA's projection, UMAP's `transform`,
    openTSNE's `TSNEEmbedding.transform`); None for a map read from a cache file until
    `warm_placer` has rebuilt it (`place` then uses the neighbours' mean meanwhile).
    `inverse(xy) -> (n, nz)` is an exact way back from the map to codes where the method has
    one (PCA: the mean plus x·pc1 + y·pc2); without it `to_latent` takes the distance-weighted
    mean code of the nearest map points.
    """

    method: str
    params: MapParams
    coords: np.ndarray  # (N, 2) float32
    codes_key: str  # fingerprint of the codes it maps (`codes_fingerprint`)
    seconds: float = 0.0  # fit time (0 for one read from a cache)
    axis_labels: tuple[str, str] = ("1", "2")
    placer: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    from_cache: bool = False
    inverse: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return map_key(self.method, self.params, self.codes_key)

    def place(self, z: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """2-D positions of new codes z (n, nz) on this map."""
        z = np.asarray(z, np.float32)
        z = z.reshape(-1, z.shape[-1])
        if self.placer is not None:
            return np.asarray(self.placer(z), np.float32).reshape(-1, 2)
        if codes is None:
            raise ValueError("a map read from a cache needs the codes to place points on it")
        return neighbour_place(codes, self.coords, z)

    def to_latent(self, xy: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """(n, nz) codes for map points xy (n, 2): the exact inverse, else the weighted mean
        code of the nearest points on the map."""
        xy = np.asarray(xy, np.float32).reshape(-1, 2)
        if self.inverse is not None:
            return np.asarray(self.inverse(xy), np.float32).reshape(len(xy), -1)
        return neighbour_place(self.coords, codes, xy)


def neighbour_place(codes: np.ndarray, coords: np.ndarray, z: np.ndarray, k: int = 10) -> np.ndarray:
    """Inverse-distance weighted mean of the map positions of each z's k nearest codes: the
    start that openTSNE's transform optimises from, used until a method's transform is ready."""
    codes = np.asarray(codes, np.float32)
    z = np.asarray(z, np.float32).reshape(-1, codes.shape[1])
    k = max(1, min(k, len(codes)))
    d = ((z[:, None, :] - codes[None, :, :]) ** 2).sum(-1)  # (n, N)
    idx = np.argpartition(d, k - 1, axis=1)[:, :k]
    w = 1.0 / (np.sqrt(np.take_along_axis(d, idx, 1)) + 1e-6)
    return ((coords[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True)).astype(np.float32)


def codes_fingerprint(codes: np.ndarray) -> str:
    """A short hash of the codes: a cached map of other codes (retrained weights) never matches."""
    a = np.ascontiguousarray(np.asarray(codes, np.float32))
    h = hashlib.blake2b(a.tobytes(), digest_size=8)
    h.update(str(a.shape).encode())
    return h.hexdigest()


def map_key(method: str, params: MapParams, codes_key: str) -> str:
    parts = "-".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}"
                     for k, v in sorted(params.used_by(method).items()))
    return f"{method}_{parts}_{codes_key}".replace(".", "p")


def fit_map(codes: np.ndarray, method: str = "pca", params: MapParams | None = None,
            progress: Progress | None = None, should_stop: ShouldStop | None = None) -> FittedMap:
    """Map `codes` (N, nz) to 2-D with `method`; MapCancelled when `should_stop()` turns true."""
    params = params or MapParams()
    codes = np.ascontiguousarray(np.asarray(codes, np.float32))
    m = get_map_method(method)
    if codes.ndim != 2 or (len(codes) < 2 and m.background):  # an instant method takes any N
        raise ValueError(f"need at least 2 codes of shape (N, nz), got {codes.shape}")
    # The fit sees each of its parameters, as its type, its own default where none was given.
    params = MapParams(params.seed, **{s.name: s.coerce(params.get(s.name, s.default)) for s in m.params})
    t0 = time.perf_counter()
    fitted = m.fit(codes, params, progress or (lambda f, s: None), should_stop or (lambda: False))
    fitted.seconds = time.perf_counter() - t0
    fitted.codes_key = codes_fingerprint(codes)
    return fitted


def fit_start_text(method: str, n: int) -> str:
    """The line `main.py map` prints on stderr before a slow (background) method's fit."""
    note = f" ({UMAP_FIRST_TIME})" if method == "umap" and not umap_is_compiled() else ""
    return f"fitting {get_map_method(method).label} to {n:,} codes{note}..."


def fit_done_text(method: str, seconds: float) -> str:
    """The line that follows it: how long the fit took."""
    return f"fitted {get_map_method(method).label} in {seconds:.1f} s"


def busy_text(what: str, elapsed_s: float) -> str:
    """A running fit's status in the window: what it is doing, and for how long so far."""
    return f"{what} · {elapsed_s:.0f} s so far"


# -- PCA ---------------------------------------------------------------------------------------
def _fit_pca(codes: np.ndarray, params: MapParams, progress: Progress, should_stop: ShouldStop) -> FittedMap:
    """Exact PCA: panel_math.latent_map's (eigenvectors of the nz×nz Gram matrix), so the
    window's map and this one are the same numbers; its inverse is mean + x·pc1 + y·pc2."""
    import torch

    from latent_explorer.training.explore.panel_math import Encoded, latent_map

    m = latent_map(Encoded(torch.from_numpy(codes), None, np.zeros(len(codes), np.int64)))
    ex = m.explained * 100
    c32, m32 = m.components.numpy(), m.center.numpy()
    return FittedMap("pca", params, m.coords, "",
                     axis_labels=(f"PC 1 ({ex[0]:.0f}% of variance)", f"PC 2 ({ex[1]:.0f}%)"),
                     placer=lambda q: (np.asarray(q, np.float32) - m32) @ c32,
                     inverse=lambda xy: m32 + np.asarray(xy, np.float32) @ c32.T)


def _warm_pca(codes: np.ndarray, fitted: FittedMap) -> Placer:
    return _fit_pca(np.asarray(codes, np.float32), fitted.params, lambda f, s: None,
                    lambda: False).placer  # type: ignore[return-value]


# -- UMAP --------------------------------------------------------------------------------------
class _TqdmProgress(io.TextIOBase):
    """A file for umap's tqdm bar (formatted '{n}/{total}'): reports the epochs done and raises
    MapCancelled from inside the layout loop when asked to stop (numba gives no other hook)."""

    def __init__(self, progress: Progress, should_stop: ShouldStop, start: float) -> None:
        super().__init__()
        self._progress, self._should_stop, self._start = progress, should_stop, start

    def write(self, s: str) -> int:
        if self._should_stop():
            raise MapCancelled()
        n, _, total = s.strip().partition("/")
        if n.isdigit() and total.isdigit() and int(total):
            f = self._start + (1 - self._start) * int(n) / int(total)
            self._progress(f, f"UMAP: laying out, epoch {n} of {total}")
        return len(s)

    def flush(self) -> None:
        pass


# -- numba's compile cache ---------------------------------------------------------------------
# UMAP and pynndescent are numba code compiled at their first use in a process: ~50-140 s on two
# busy cores for the first UMAP ever, and, as umap-learn marks few of its functions cache=True,
# still ~60 s in every later process. Kept on disk (numba's cache), a later process loads it
# in seconds.
NUMBA_CACHE_SUBDIR = "numba"
UMAP_FIRST_TIME = "the first time compiles numba code, about a minute; later runs reuse the cache"
_umap_lock = threading.Lock()
_umap_fitted_here = False  # a UMAP was fitted in this process: its code is compiled


def numba_cache_dir() -> Path:
    """Where numba keeps compiled code: $NUMBA_CACHE_DIR when set, else numba/ in the project's
    cache folder (training/data/cache_folder.py: $LATENT_EXPLORER_CACHE or the user's cache)."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    from latent_explorer.training.data.cache_folder import cache_dir

    return cache_dir() / NUMBA_CACHE_SUBDIR


def use_numba_cache() -> Path:
    """Point numba's on-disk cache at `numba_cache_dir()` (a NUMBA_CACHE_DIR the user set stays):
    the environment for a numba not imported yet, its config for one already imported."""
    path = numba_cache_dir()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(path))
    config = getattr(sys.modules.get("numba"), "config", None)
    if config is not None and not getattr(config, "CACHE_DIR", ""):
        config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
    return path


def umap_is_compiled() -> bool:
    """Whether a UMAP fit starts without compiling: one ran in this process, or numba's cache
    holds umap's code (numba names its folders there after the package: umap_<hash>)."""
    if _umap_fitted_here:
        return True
    try:
        return any(d.name.startswith("umap_") and any(d.glob("*.nbi"))
                   for d in numba_cache_dir().iterdir() if d.is_dir())
    except OSError:
        return False


def _cache_jitted(packages: tuple[str, ...] = ("umap", "pynndescent")) -> int:
    """Have numba keep on disk what it compiles for these packages' module-level functions:
    those not marked cache=True start caching as if they were (numba's `enable_caching`, what
    cache=True calls). How many were switched; nothing at all where numba's internals differ."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except Exception:  # noqa: BLE001 - another numba: it still works, uncached
        return 0
    n = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in packages:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None),
                                                            NullCache):
                try:
                    value.enable_caching()
                    n += 1
                except Exception:  # noqa: BLE001 - this one compiles each time, as before
                    pass
    return n


def _import_umap():
    """umap-learn, imported once: heavy (numba, pynndescent), so only when a UMAP is asked for,
    with numba's cache in the user's cache folder (set before numba is imported).
    Its import warns that TensorFlow (for ParametricUMAP, unused here) is missing: not ours to say."""
    with _umap_lock:
        first = "umap" not in sys.modules
        use_numba_cache()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ImportWarning)
            import umap
        if first:
            _cache_jitted()
    return umap


def _umap_model(params: MapParams, n: int, **kw):
    umap = _import_umap()

    return umap.UMAP(n_neighbors=max(2, min(params.n_neighbors, n - 1)), min_dist=params.min_dist,
                     random_state=params.seed, n_jobs=1, **kw)  # n_jobs=1: leave a core to the GUI


def umap_start_text() -> str:
    """What a UMAP fit says it does before its layout epochs, in the window and the CLI."""
    if umap_is_compiled():
        return "UMAP: loading its compiled code and finding neighbours"
    return ("UMAP: compiling numba code (the first time only, about a minute; later runs reuse "
            "the cache), then finding neighbours")


def _fit_umap(codes: np.ndarray, params: MapParams, progress: Progress, should_stop: ShouldStop) -> FittedMap:
    global _umap_fitted_here
    progress(0.0, umap_start_text())
    if should_stop():
        raise MapCancelled()
    bar = {"disable": False, "file": _TqdmProgress(progress, should_stop, 0.3),
           "bar_format": "{n}/{total}", "mininterval": 0.05}
    model = _umap_model(params, len(codes), tqdm_kwds=bar)
    coords = model.fit_transform(codes).astype(np.float32)
    if should_stop():
        raise MapCancelled()
    model.tqdm_kwds = {"disable": True}
    progress(0.99, "UMAP: warming its transform")
    model.transform(codes[:1])  # the first transform compiles; the Draw tab's star comes warm
    _umap_fitted_here = True
    return FittedMap("umap", params, coords, "", axis_labels=("UMAP 1", "UMAP 2"),
                     placer=lambda q: model.transform(q))


def _warm_umap(codes: np.ndarray, fitted: FittedMap) -> Callable[[np.ndarray], np.ndarray]:
    """UMAP's transform for a cached map without re-laying it out: fit with 0 epochs from the
    cached coordinates (neighbour graph only), then undo umap's rescaling of its init."""
    model = _umap_model(fitted.params, len(codes), n_epochs=0, init=fitted.coords.astype(np.float64))
    emb = model.fit_transform(codes)
    model.n_epochs = None  # its transform picks its own epochs
    # umap rescales an init into [0, 10] per axis: fit that affine map back, per axis.
    scale, shift = np.ones(2), np.zeros(2)
    for a in range(2):
        A = np.column_stack([emb[:, a], np.ones(len(emb))])
        (scale[a], shift[a]), *_ = np.linalg.lstsq(A, fitted.coords[:, a], rcond=None)
    model.transform(codes[:1])
    return lambda q: model.transform(q) * scale + shift


# -- t-SNE -------------------------------------------------------------------------------------
TSNE_ITERS = (250, 500)  # openTSNE's defaults: early exaggeration, then the embedding phase


def _fit_tsne(codes: np.ndarray, params: MapParams, progress: Progress, should_stop: ShouldStop) -> FittedMap:
    from openTSNE import TSNE
    from openTSNE.affinity import PerplexityBasedNN

    perplexity = min(params.perplexity, (len(codes) - 1) / 3)
    progress(0.0, "t-SNE: finding neighbours")
    total = sum(TSNE_ITERS)
    phase = {"offset": 0, "last": -1}

    def callback(it: int, error: float, embedding: np.ndarray) -> bool:
        if it < phase["last"]:  # the embedding phase counts from 0 again
            phase["offset"] = TSNE_ITERS[0]
        phase["last"] = it
        done = min(total, phase["offset"] + it)
        progress(0.15 + 0.85 * done / total, f"t-SNE: iteration {done} of {total}")
        return should_stop()  # True interrupts openTSNE's optimiser

    from openTSNE import initialization

    aff = PerplexityBasedNN(codes, perplexity=perplexity, n_jobs=1, random_state=params.seed)
    if should_stop():
        raise MapCancelled()
    init = initialization.pca(codes, random_state=params.seed)
    tsne = TSNE(n_jobs=1, random_state=params.seed, callbacks=callback, callbacks_every_iters=10,
                early_exaggeration_iter=TSNE_ITERS[0], n_iter=TSNE_ITERS[1])
    from openTSNE.tsne import OptimizationInterrupt

    try:
        emb = tsne.fit(affinities=aff, initialization=init)
    except OptimizationInterrupt:
        raise MapCancelled() from None
    if should_stop():
        raise MapCancelled()
    progress(0.99, "t-SNE: warming its transform")
    emb.transform(codes[:1])
    return FittedMap("tsne", params, np.asarray(emb, np.float32).copy(), "",
                     axis_labels=("t-SNE 1", "t-SNE 2"), placer=_tsne_placer(emb))


TSNE_PLACE_ITERS = 100  # optimisation steps to place a new point (openTSNE's default is 250)


def _tsne_placer(emb) -> Callable[[np.ndarray], np.ndarray]:
    return lambda q: np.asarray(emb.transform(q, n_iter=TSNE_PLACE_ITERS))


def _warm_tsne(codes: np.ndarray, fitted: FittedMap) -> Callable[[np.ndarray], np.ndarray]:
    """openTSNE's transform for a cached map: its affinities on the codes, the cached layout."""
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import PerplexityBasedNN

    perplexity = min(fitted.params.perplexity, (len(codes) - 1) / 3)
    aff = PerplexityBasedNN(codes, perplexity=perplexity, n_jobs=1, random_state=fitted.params.seed)
    emb = TSNEEmbedding(fitted.coords.astype(np.float64), aff, n_jobs=1,
                        random_state=fitted.params.seed)
    emb.transform(codes[:1])
    return _tsne_placer(emb)


def warm_placer(codes: np.ndarray, fitted: FittedMap) -> FittedMap:
    """`fitted` with its method's transform ready (rebuilt for a map read from a cache by the
    method's `warm`; unchanged when it has none)."""
    warm = get_map_method(fitted.method).warm
    if fitted.placer is not None or warm is None:
        return fitted
    return replace(fitted, placer=warm(np.asarray(codes, np.float32), fitted))


register_map_method(MapMethod(
    "pca", "PCA", "global variance: distances along the two main directions; instant",
    (), _fit_pca, background=False, deterministic=True, warm=_warm_pca,
    how="projected on their 2 principal directions (PCA)"))
register_map_method(MapMethod(
    "umap", "UMAP", "neighbourhoods and some global layout (umap-learn); ~35 s for 10,000 codes",
    (ParamSpec("n_neighbors", "neighbours", int, 15, 2, 200,
               "UMAP n_neighbors: how large a neighbourhood it keeps"),
     ParamSpec("min_dist", "min dist", float, 0.1, 0.0, 1.0,
               "UMAP min_dist: how tightly it packs points", step=0.05)),
    _fit_umap, background=True, warm=_warm_umap,
    how="laid out by UMAP (neighbourhoods kept; distances between clusters mean little)"))
register_map_method(MapMethod(
    "tsne", "t-SNE", "local neighbourhoods; cluster sizes and gaps mean little (openTSNE); "
    "~30 s for 10,000 codes",
    (ParamSpec("perplexity", "perplexity", float, 30.0, 2.0, 200.0,
               "t-SNE perplexity: the effective number of neighbours"),),
    _fit_tsne, background=True, warm=_warm_tsne,
    how="laid out by t-SNE (neighbourhoods kept; cluster sizes and gaps mean little)"))


# -- quality -----------------------------------------------------------------------------------
def trustworthiness(codes: np.ndarray, coords: np.ndarray, k: int = TRUSTWORTHINESS_K) -> float:
    """How far the map's k nearest neighbours are true neighbours in latent space (1 = all):
    scikit-learn's trustworthiness (Venna & Kaski 2001)."""
    from sklearn.manifold import trustworthiness as tw

    k = max(1, min(k, (len(codes) - 1) // 2 - 1))
    return float(tw(np.asarray(codes, np.float64), np.asarray(coords, np.float64), n_neighbors=k))


# -- points inside a lasso ---------------------------------------------------------------------
def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the (N, 2) points inside the closed polygon (M, 2), even-odd rule."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    inside = np.zeros(len(pts), bool)
    if len(poly) < 3:
        return inside
    x, y = pts[:, 0], pts[:, 1]
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xc)
    return inside


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """How many of `labels` fall in each class 0 … n_classes-1."""
    labels = np.asarray(labels, np.int64)
    return np.bincount(labels[(labels >= 0) & (labels < n_classes)], minlength=n_classes)


# -- the cache beside the checkpoint -----------------------------------------------------------
def cache_path(checkpoint: str | os.PathLike) -> Path:
    p = Path(checkpoint)
    return p.with_name(p.stem + CACHE_SUFFIX)


def read_cached_map(checkpoint: str | os.PathLike, method: str, params: MapParams,
                    codes: np.ndarray) -> FittedMap | None:
    """The map of these codes by `method`/`params` from the cache file, or None: a missing,
    stale (other codes or parameters), corrupt or foreign file is ignored, never raised."""
    path = cache_path(checkpoint)
    if not path.is_file():
        return None
    key = map_key(method, params, codes_fingerprint(codes))
    try:  # our own handle: np.load leaks its file when the file is not an npz
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            if int(f["version"]) != CACHE_VERSION or key not in f.files:
                return None
            coords = np.asarray(f[key], np.float32)
            labels = tuple(str(s) for s in f[key + "__axes"]) if key + "__axes" in f.files \
                else ("1", "2")
    except Exception:  # noqa: BLE001 - a bad cache is only a slower map
        return None
    if coords.shape != (len(codes), 2) or not np.isfinite(coords).all() or len(labels) != 2:
        return None
    return FittedMap(method, params, coords, codes_fingerprint(codes), axis_labels=labels,
                     from_cache=True)


def write_cached_map(checkpoint: str | os.PathLike, fitted: FittedMap) -> Path | None:
    """Add `fitted` to the cache file beside the checkpoint (atomically); None if it cannot
    be written (a read-only folder): the cache is an optimisation."""
    path = cache_path(checkpoint)
    entries: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            if int(f["version"]) == CACHE_VERSION:
                entries = {k: f[k] for k in f.files if k != "version"}
    except Exception:  # noqa: BLE001 - missing or corrupt: start a new file
        entries = {}
    entries[fitted.key] = fitted.coords.astype(np.float32)
    entries[fitted.key + "__axes"] = np.array(fitted.axis_labels)
    maps = [k for k in entries if not k.endswith("__axes")]
    for old in maps[:-MAX_CACHED_MAPS]:  # dicts keep insertion order: the oldest first
        entries.pop(old, None)
        entries.pop(old + "__axes", None)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as out:
            # numpy's stub types allow_pickle beside **kwds, so no dict of arrays passes mypy.
            np.savez(out, version=np.array(CACHE_VERSION), **entries)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return None
    return path


__all__ = ["CACHE_SUFFIX", "MAP_METHODS", "TRUSTWORTHINESS_K", "FittedMap", "MapCancelled",
           "MapMethod", "MapParams", "ParamSpec", "cache_path", "class_counts", "codes_fingerprint",
           "default_method", "fit_map", "get_map_method", "map_key", "map_method_names", "neighbour_place",
           "points_in_polygon", "read_cached_map", "register_map_method", "trustworthiness",
           "warm_placer", "write_cached_map"]
