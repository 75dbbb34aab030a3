"""What the latent dimensions mean: MIG and DCI against known generative factors, and labels for
the dimensions (slider names, heat-map rows, tooltips). Array in, array out; no model code but
`codes_of`.

Conventions (google-research/disentanglement_lib, `evaluation/metrics/mig.py`, `dci.py` and
`utils.py`), so the scores compare with the published tables:
- codes are the posterior *means* of (up to) 10,000 images (`max_points`, `sample_index`);
- each latent dimension is discretised into a 20-bin histogram of its own range
  (`_histogram_discretize`: np.histogram's bin edges, then np.digitize on all but the last);
- MI(z_j; v_k) is `sklearn.metrics.mutual_info_score` of the binned code against the factor's
  discrete values (plug-in estimate from the contingency table, in nats), and a factor's entropy
  H(v_k) is the same function of the factor against itself;
- MIG = mean over factors of (largest MI - second largest MI) / H(v_k).
This is the "discrete MIG" of disentanglement_lib, not Chen et al. 2018's original ("Isolating
Sources of Disentanglement in VAEs"), which estimates MI from sampled codes z ~ q(z|x) with the
continuous density q(z_j|x); the two agree in ranking but not in value.

Factors: disentanglement_lib scores against the factors' integer indices. Here factor *values*
come in (a sprites factor's scale, orientation, x, y are floats; a labelled dataset's label is one
factor): a column with at most 64 distinct values is discretised by its unique values (each value
its own class, as the indices would be), one with more is binned like a code (20 bins).

DCI (Eastwood & Williams 2018, "A Framework for the Quantitative Evaluation of Disentangled
Representations"): one classifier per factor predicts the factor from the codes; the (D, F) matrix
of its feature importances gives disentanglement (1 - entropy over factors of each code's row,
base F, weighted by the code's share of importance) and completeness (1 - entropy over codes of
each factor's column, base D, weighted by the factor's share); informativeness is the classifier's
accuracy on held-out codes (disentanglement_lib's `dci.py`: classification accuracy, not the
paper's regression error). disentanglement_lib fits sklearn's GradientBoostingClassifier (100
depth-3 stages, one tree per class per stage): measured here at 262 s for 2,000 codes of the five
sprites factors (65 s of it the 40-value orientation), far longer at 10,000. The default here is
an ExtraTreesClassifier with 10 trees of depth <= 8 that consider *every* dimension at each split
(max_features=None): 0.8-1.1 s for 10,000 x 32 codes and 5 sprites factors on 2 cores (2.2 s
beside other busy processes). The full feature set matters: forests' default of sqrt(D) random
candidates per split forces splits on noise dimensions whenever the informative one is not
drawn, and put half of a 40-value factor's importance on noise dims even for a near-exact copy;
the depth limit keeps trees from fitting noise in a factor the code does not determine (as GBT's
depth-3 trees do not). `estimator="gbt"` runs disentanglement_lib's choice for comparison. The
two importance estimators give different values on the same codes
(benchmarks/disentanglement_scoring.py): compare DCI numbers only between runs scored with the
same estimator, not with published disentanglement_lib tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

BINS = 20  # disentanglement_lib's `discretizer.num_bins` for MIG
MAX_POINTS = 10_000  # disentanglement_lib's `mig.num_train`
MAX_FACTOR_VALUES = 64  # a factor with more distinct values than this is binned
DCI_TEST_FRACTION = 1 / 3  # disentanglement_lib's dci: 10,000 train, 5,000 test codes


# -- discretising ------------------------------------------------------------------------------
def discretize(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column binned into `bins` equal-width bins over its own range: ints 1..bins, (N, D).

    disentanglement_lib's `utils._histogram_discretize`: np.digitize against np.histogram's edges
    without the last, so the maximum lands in bin `bins`, not `bins + 1`.
    """
    codes = _as_2d(codes, "codes")
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def discretize_factors(factors: np.ndarray, max_values: int = MAX_FACTOR_VALUES,
                       bins: int = BINS) -> np.ndarray:
    """Factor values (N, F) as class indices 0..K_f-1, (N, F) int64.

    A column with at most `max_values` distinct values keeps them as classes (the factor
    indices disentanglement_lib scores with); one with more is histogram-binned like a code,
    then renumbered to the bins that occur.
    """
    factors = _as_2d(factors, "factors")
    out = np.empty(factors.shape, dtype=np.int64)
    for k in range(factors.shape[1]):
        col = factors[:, k]
        values, inverse = np.unique(col, return_inverse=True)
        if len(values) > max_values:
            _, inverse = np.unique(discretize(col[:, None], bins)[:, 0], return_inverse=True)
        out[:, k] = inverse.reshape(-1)
    return out


def sample_index(n: int, max_points: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `max_points` of n items, drawn without replacement: the
    (up to) 10,000 images disentanglement_lib scores."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


# -- mutual information ------------------------------------------------------------------------
def _plugin_mi(counts: np.ndarray) -> np.ndarray:
    """MI in nats of each (a, b) contingency table in counts (..., A, B), as sklearn's
    mutual_info_score computes it (terms below float eps dropped, clipped at 0, and 0 when
    either variable takes a single value)."""
    counts = counts.astype(np.float64)
    n = counts.sum(axis=(-2, -1), keepdims=True)
    a = counts.sum(axis=-1, keepdims=True)
    b = counts.sum(axis=-2, keepdims=True)
    nz = counts > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / n
        # sklearn: p * (log n_ab - log n) + p * (log n + log n - log(n_a n_b))
        terms = p * (np.log(counts) - np.log(n)) + p * (2 * np.log(n) - np.log(a * b))
    terms = np.where(nz & (np.abs(terms) >= np.finfo(np.float64).eps), terms, 0.0)
    mi = np.clip(terms.sum(axis=(-2, -1)), 0.0, None)
    single = ((a > 0).sum(axis=(-2, -1)) <= 1) | ((b > 0).sum(axis=(-2, -1)) <= 1)
    return np.where(single, 0.0, mi)


def discrete_mutual_info(code_bins: np.ndarray, factor_classes: np.ndarray) -> np.ndarray:
    """(D, F) MI in nats between discrete codes (N, D) and factor classes (N, F), both ints.

    One np.bincount per factor over (dim, code bin, factor class) tables of all D dims at once,
    instead of D x F calls of sklearn's mutual_info_score (same numbers; tests compare).
    """
    c = _as_2d(code_bins, "code_bins").astype(np.int64)
    f = _as_2d(factor_classes, "factor_classes").astype(np.int64)
    if len(c) != len(f):
        raise ValueError(f"{len(c)} codes but {len(f)} factor rows")
    c = c - c.min(axis=0, keepdims=True)
    n_c = int(c.max()) + 1 if c.size else 1
    n_dims = c.shape[1]
    out = np.zeros((n_dims, f.shape[1]))
    for k in range(f.shape[1]):
        values, fk = np.unique(f[:, k], return_inverse=True)  # classes 0..K-1, however numbered
        fk = fk.reshape(-1)
        n_f = len(values)
        flat = (np.arange(n_dims) * (n_c * n_f))[None, :] + c * n_f + fk[:, None]
        counts = np.bincount(flat.ravel(), minlength=n_dims * n_c * n_f)
        out[:, k] = _plugin_mi(counts.reshape(n_dims, n_c, n_f))
    return out


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = BINS,
                       max_factor_values: int = MAX_FACTOR_VALUES) -> np.ndarray:
    """(D, F) MI in nats between each latent dim (histogram-binned) and each factor."""
    codes = _as_2d(codes, "codes")
    return discrete_mutual_info(discretize(codes, bins),
                                discretize_factors(factors, max_factor_values, bins))


def factor_entropies(factors: np.ndarray, max_factor_values: int = MAX_FACTOR_VALUES,
                     bins: int = BINS) -> np.ndarray:
    """(F,) entropy in nats of each factor's discrete values (disentanglement_lib's
    `discrete_entropy`: mutual_info_score of a factor with itself)."""
    classes = discretize_factors(factors, max_factor_values, bins)
    out = np.zeros(classes.shape[1])
    for k in range(classes.shape[1]):
        p = np.bincount(classes[:, k]) / len(classes)
        p = p[p > 0]
        out[k] = float(-(p * np.log(p)).sum()) if len(p) > 1 else 0.0
    return out


# -- MIG ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MIGResult:
    """MIG and what it is made of.

    score: mean of per_factor over the factors that vary (a constant factor has no gap).
    per_factor (F,): (top MI - second MI) / H(factor); NaN for a constant factor.
    top_dims (F,): the latent dim with the largest MI for each factor.
    mi (D, F): MI in nats; entropy (F,): H(factor) in nats.
    """

    score: float
    per_factor: np.ndarray
    top_dims: np.ndarray
    mi: np.ndarray
    entropy: np.ndarray


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = BINS,
        max_factor_values: int = MAX_FACTOR_VALUES, mi: np.ndarray | None = None) -> MIGResult:
    """Mutual information gap (disentanglement_lib's discrete MIG) of codes (N, D) against
    factor values (N, F); pass `mi` when the matrix is already computed."""
    if mi is None:
        mi = mutual_info_matrix(codes, factors, bins, max_factor_values)
    mi = np.asarray(mi, dtype=np.float64)
    entropy = factor_entropies(factors, max_factor_values, bins)
    if mi.shape[1] != len(entropy):
        raise ValueError(f"mi has {mi.shape[1]} factors, factors have {len(entropy)}")
    ordered = np.sort(mi, axis=0)[::-1]
    second = ordered[1] if len(ordered) > 1 else np.zeros(mi.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_factor = np.where(entropy > 0, (ordered[0] - second) / entropy, np.nan)
    varied = ~np.isnan(per_factor)
    score = float(per_factor[varied].mean()) if varied.any() else float("nan")
    return MIGResult(score, per_factor, np.argmax(mi, axis=0), mi, entropy)


# -- DCI ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DCIResult:
    """DCI scores (Eastwood & Williams 2018) and the importance matrix they come from.

    importance (D, F): the factor-k classifier's feature importances in column k.
    disentanglement, completeness in [0, 1]; informativeness: mean held-out accuracy.
    per_code (D,), per_factor (F,): the unweighted disentanglement and completeness terms.
    informativeness_per_factor (F,), train_accuracy (F,): accuracies per factor.
    """

    importance: np.ndarray
    disentanglement: float
    completeness: float
    informativeness: float
    per_code: np.ndarray
    per_factor: np.ndarray
    informativeness_per_factor: np.ndarray
    train_accuracy: np.ndarray


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy along `axis` of p normalised to sum 1 there, in base p.shape[axis] (so in
    [0, 1]); scipy.stats.entropy(p + 1e-11, base=...) as disentanglement_lib calls it."""
    base = p.shape[axis]
    if base <= 1:
        return np.zeros(p.shape[1 - axis])
    q = p + 1e-11
    q = q / q.sum(axis=axis, keepdims=True)
    return -(q * np.log(q)).sum(axis=axis) / np.log(base)


def dci_scores(importance: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(disentanglement, completeness, per_code, per_factor) of a (D, F) importance matrix,
    disentanglement_lib's `dci.disentanglement` and `dci.completeness`."""
    imp = np.abs(np.asarray(importance, dtype=np.float64))
    per_code = 1.0 - _normalised_entropy(imp, axis=1)
    per_factor = 1.0 - _normalised_entropy(imp, axis=0)
    weights = imp if imp.sum() > 0 else np.ones_like(imp)
    code_share = weights.sum(axis=1) / weights.sum()
    factor_share = weights.sum(axis=0) / weights.sum()
    return (float((per_code * code_share).sum()), float((per_factor * factor_share).sum()),
            per_code, per_factor)


def _classifier(estimator: str, seed: int, n_trees: int, max_depth: int | None) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier

    if estimator == "trees":
        return ExtraTreesClassifier(n_estimators=n_trees, max_features=None,
                                    max_depth=max_depth, random_state=seed)
    if estimator == "gbt":  # disentanglement_lib's: sklearn's defaults, 100 depth-3 stages
        return GradientBoostingClassifier(random_state=seed)
    raise ValueError(f"unknown estimator {estimator!r}: 'trees' or 'gbt'")


def dci(codes: np.ndarray, factors: np.ndarray, test_fraction: float = DCI_TEST_FRACTION,
        seed: int = 0, estimator: str = "trees", n_trees: int = 10, max_depth: int | None = 8,
        max_factor_values: int = MAX_FACTOR_VALUES, bins: int = BINS) -> DCIResult:
    """DCI of codes (N, D) against factor values (N, F): one classifier per factor on a random
    (1 - test_fraction) of the codes, accuracy on the rest (see the module docstring)."""
    codes = _as_2d(codes, "codes").astype(np.float64)
    classes = discretize_factors(factors, max_factor_values, bins)
    if len(codes) != len(classes):
        raise ValueError(f"{len(codes)} codes but {len(classes)} factor rows")
    n = len(codes)
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(f"{n} codes are too few to split {test_fraction:.0%} off for testing")
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[n_test:], order[:n_test]
    n_dims, n_factors = codes.shape[1], classes.shape[1]
    importance = np.zeros((n_dims, n_factors))
    test_acc = np.zeros(n_factors)
    train_acc = np.zeros(n_factors)
    for k in range(n_factors):
        y = classes[:, k]
        if len(np.unique(y[train])) < 2:  # nothing to predict: a constant factor
            test_acc[k] = train_acc[k] = 1.0
            continue
        model = _classifier(estimator, seed, n_trees, max_depth).fit(codes[train], y[train])
        importance[:, k] = np.abs(model.feature_importances_)
        train_acc[k] = float(np.mean(model.predict(codes[train]) == y[train]))
        test_acc[k] = float(np.mean(model.predict(codes[test]) == y[test]))
    d, c, per_code, per_factor = dci_scores(importance)
    return DCIResult(importance, d, c, float(test_acc.mean()), per_code, per_factor,
                     test_acc, train_acc)


# -- labels for the dimensions -----------------------------------------------------------------
@dataclass(frozen=True)
class DimensionLabel:
    """What one latent dimension encodes most: its most informative factor and that MI.

    text: "z7 ≈ x, MI 1.80 nats" (or "z7: no factor, MI 0.00 nats" when even the best MI is
    below the threshold it was made with); short: "z7 ≈ x" or "z7".
    normalized: mi / H(factor) when entropies were given, else NaN.
    """

    dim: int
    factor: int
    factor_name: str
    mi: float
    informative: bool
    normalized: float = float("nan")

    @property
    def short(self) -> str:
        return f"z{self.dim} ≈ {self.factor_name}" if self.informative else f"z{self.dim}"

    @property
    def text(self) -> str:
        if not self.informative:
            return f"z{self.dim}: no factor, MI {self.mi:.2f} nats"
        share = "" if np.isnan(self.normalized) else f" ({self.normalized:.0%} of H)"
        return f"z{self.dim} ≈ {self.factor_name}, MI {self.mi:.2f} nats{share}"


def describe_dimensions(mi: np.ndarray, factor_names: Sequence[str],
                        entropies: np.ndarray | None = None,
                        min_mi: float = 0.05) -> list[DimensionLabel]:
    """One label per latent dim (row of mi (D, F)): the factor it carries most about.

    A dim whose best MI is below `min_mi` nats is marked uninformative: naming a factor for
    noise would mislead the slider labels.
    """
    mi = np.asarray(mi, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[1] != len(factor_names):
        raise ValueError(f"mi {mi.shape} does not match {len(factor_names)} factor names")
    labels = []
    for j, row in enumerate(mi):
        k = int(np.argmax(row)) if row.size else 0
        best = float(row[k]) if row.size else 0.0
        norm = float("nan")
        if entropies is not None and entropies[k] > 0:
            norm = best / float(entropies[k])
        labels.append(DimensionLabel(j, k, str(factor_names[k]) if row.size else "",
                                     best, best >= min_mi, norm))
    return labels


def sorted_dimensions(mi: np.ndarray, by: str = "mi", min_mi: float = 0.05) -> np.ndarray:
    """An order of the latent dims for the heat map's rows.

    by="mi": by each dim's largest MI, descending. by="factor": grouped by the factor each
    dim carries most about (factor order), largest MI first within a group, dims below
    `min_mi` last. Ties keep dim order (stable sorts).
    """
    mi = np.asarray(mi, dtype=np.float64)
    best = mi.max(axis=1)
    if by == "mi":
        return np.argsort(-best, kind="stable")
    if by == "factor":
        group = np.where(best >= min_mi, np.argmax(mi, axis=1), mi.shape[1])
        return np.lexsort((-best, group))
    raise ValueError(f"unknown order {by!r}: 'mi' or 'factor'")


# -- codes of a model --------------------------------------------------------------------------
def codes_of(model: Any, images: Any, labels: Any = None, batch: int = 500) -> np.ndarray:
    """Posterior means (N, nz) as float64 numpy, `model.encode(x, y).mean` in batches.

    images: float in [0, 1] (uint8 is scaled by 1/255), any shape with the batch first;
    labels: the condition of a conditional model, else None. The model is put in eval mode for
    the pass (no dropout or batch statistics in the codes) and left as it was.
    """
    import torch

    x_all = torch.as_tensor(images)
    if x_all.dtype == torch.uint8:
        x_all = x_all.float().div_(255.0)
    y_all = None if labels is None else torch.as_tensor(labels)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = bool(model.training)
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(x_all), batch):
                x = x_all[start:start + batch].to(device=device, dtype=torch.float32)
                y = None if y_all is None else y_all[start:start + batch].to(device)
                out.append(model.encode(x, y).mean.double().cpu().numpy())
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0))
    return np.concatenate(out)


def _as_2d(a: np.ndarray, name: str) -> np.ndarray:
    """a as a 2-D numpy array ((N,) becomes (N, 1))."""
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {a.shape}")
    return a
