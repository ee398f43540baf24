"""Confidence intervals that count every source of chance: the test items, generation and training.

A score measured on one test set after one generation run and one training run varies for three
reasons: which items happen to be in the test set, which texts the generator happened to write (the
bundled server is not bit-reproducible), and which training seed was used. An interval from a
bootstrap over test items alone sees only the first; repeating generation and training (replicates)
shows the other two. Every interval here adds both parts.

Conventions: labels are integer codes 0..L-1; `gold` has shape (n,); the predictions of one source
have shape (R, n), one row per replicate (a generation replicate with its own training seed, or one
training seed for real data).

The method, in plain words (`combined_interval`):

1. Point estimate: the statistic on the full test set, averaging the replicates' scores.
2. Item part: draw the test items with replacement (scipy.stats.bootstrap over the item indices,
   the same draw for every array, so all sources are compared on the same resampled items, i.e.
   paired), recompute the statistic, and take the standard deviation of those values: the
   bootstrap standard error.
3. Replicate part: the variance of the per-replicate values (ddof=1) divided by R, the number of
   replicates: the uncertainty of a mean of R draws of generation and training. Zero when R == 1.
4. Combined standard error: the square root of the sum of the two variances.
5. Interval: value +- t * se, where t is the Student-t quantile with Welch-Satterthwaite degrees of
   freedom: se^4 / sum(part^2 / (R_part - 1)) over the replicate parts (the item part counts as
   having infinitely many). With a large test set and few replicates this honestly widens the
   interval when generation dominates; with no replicate part it is the normal quantile.

A difference of two sources pairs the items and, when both have the same number of replicates,
the replicates (replicate r of one with replicate r of the other); otherwise each source's
replicate variance is added as its own part. A ratio (the recovered share) uses the same rule on
the first-order (delta-method) linearisation of the ratio.

The exchange rate inverts a real-data learning curve: the real size per label at which real data
reaches what synthetic data reaches at its largest size. It is estimated in log2(size), where its
sampling distribution is roughly symmetric, and the interval is exponentiated back to examples per
label; its `se` stays in log2 units. Its replicate part counts the real curve's own variance (which
real examples were drawn, which seed trained them) as well as the synthetic replicates'; a value
beyond the measured real sizes is censored and gets a one-sided bound (exchange_rate_interval).

Chance, the zero of the recovered share, is the stronger of the best constant predictor and guessing
by the training label shares. A mean over tasks is a t interval over the tasks (mean_over_tasks):
the task, not the test item, is the unit a claim about tasks generalises over.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from synthclf import scoring
from synthclf.scoring import HEADLINE

MAX_RESAMPLED_ELEMENTS = 4_000_000   # caps memory per bootstrap batch (resamples x rows x items)


@dataclass(frozen=True)
class Estimate:
    value: float        # point estimate on the full test set (mean over replicates)
    low: float
    high: float
    se: float           # combined standard error (item bootstrap + replicates)
    n_items: int
    n_replicates: int

    def significant(self, null: float = 0.0) -> bool:
        """True when the interval excludes `null`; never for an undefined (NaN) interval."""
        return bool(self.low > null or self.high < null)

    def within(self, lowest: float, highest: float) -> Estimate:
        """The interval cut to the values the statistic can take (a score lies in [0, 1]).

        With few replicates the t quantile is large (12.7 for 2 replicates) and value +- t*se can
        leave the scale; the truth cannot, so cutting there only drops impossible values and never
        lowers coverage.
        """
        return Estimate(self.value, max(self.low, lowest), min(self.high, highest), self.se,
                        self.n_items, self.n_replicates)

    def as_dict(self, places: int = 6) -> dict:
        """JSON-ready: floats rounded, NaN and infinities as None (JSON has neither)."""
        def clean(number: float):
            return round(float(number), places) if math.isfinite(number) else None
        return {"value": clean(self.value), "low": clean(self.low), "high": clean(self.high),
                "se": clean(self.se), "n_items": int(self.n_items), "n_replicates": int(self.n_replicates)}


# --------------------------------------------------------------------------- metrics (vectorised)

def confusion_batch(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion counts [..., gold label, predicted label] over the last axis of broadcastable arrays.

    One np.bincount over (row, gold, pred) codes: a single pass, far faster than per-label sums.
    """
    gold, pred = np.asarray(gold), np.asarray(pred)
    for name, labels in (("gold", gold), ("predictions", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f"{name} must be label codes 0..{n_labels - 1}, found {labels.min()}..{labels.max()}")
    codes = gold.astype(np.int64) * n_labels + pred
    batch_shape, n_items = codes.shape[:-1], codes.shape[-1]
    rows = math.prod(batch_shape)
    cells = n_labels * n_labels
    codes = codes.reshape(rows, n_items)                 # a fresh array: safe to shift in place
    codes += np.arange(rows, dtype=np.int64)[:, None] * cells
    counts = np.bincount(codes.ravel(), minlength=rows * cells)
    return counts.reshape(*batch_shape, n_labels, n_labels)


def macro_f1_batch(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 over the last axis of broadcastable arrays, averaged over all n_labels labels.

    Matches sklearn's f1_score(labels=range(L), average="macro", zero_division=0): a label that is
    neither in gold nor predicted scores 0 and still counts in the average.
    """
    counts = confusion_batch(gold, pred, n_labels)
    true_pos = np.diagonal(counts, axis1=-2, axis2=-1)
    denominator = counts.sum(axis=-1) + counts.sum(axis=-2)          # gold count + predicted count
    with np.errstate(divide="ignore", invalid="ignore"):
        per_label = np.where(denominator > 0, 2.0 * true_pos / denominator, 0.0)
    return per_label.mean(axis=-1)


def accuracy_batch(gold: np.ndarray, pred: np.ndarray, n_labels: int | None = None) -> np.ndarray:
    """Share of correct predictions over the last axis of broadcastable arrays (`n_labels` unused: every
    registered metric takes the same arguments)."""
    return np.mean(np.asarray(gold) == np.asarray(pred), axis=-1)


def label_shares(gold: np.ndarray, n_labels: int) -> np.ndarray:
    """Share of each label over the last axis: shape (..., n_labels)."""
    gold = np.asarray(gold)
    return np.stack([np.mean(gold == label, axis=-1) for label in range(n_labels)], axis=-1)


def guessing_macro_f1_batch(gold: np.ndarray, n_labels: int, train_shares) -> np.ndarray:
    """Expected Macro-F1 of guessing each label with its share in the training data, over the last axis.

    A guess independent of the text that says label c with probability q_c, on a test set with
    label shares p_c, has expected true positives n p_c q_c, predicted count n q_c and gold count
    n p_c, so F1_c = 2 p_c q_c / (p_c + q_c) (the ratio of expectations; exact as n grows). On a
    balanced binary task guessing by balanced shares scores 1/2, where the best constant scores 1/3.
    """
    shares = label_shares(gold, n_labels)
    q = _train_shares(train_shares, n_labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_label = np.where(shares + q > 0, 2 * shares * q / (shares + q), 0.0)
    return per_label.mean(axis=-1)


def _train_shares(train_shares, n_labels: int) -> np.ndarray:
    q = np.asarray(train_shares, dtype=float)
    if q.shape != (n_labels,) or np.any(q < 0) or not math.isclose(float(q.sum()), 1.0, abs_tol=1e-6):
        raise ValueError(f"train_shares must be {n_labels} label shares summing to 1, got {q.tolist()}")
    return q


def chance_macro_f1_batch(gold: np.ndarray, n_labels: int, train_shares=None) -> np.ndarray:
    """Chance Macro-F1 over the last axis: the stronger of the best constant predictor and, when the
    training label shares are given, guessing by those shares (guessing_macro_f1_batch).

    Predicting label c everywhere gives F1_c = 2 p_c / (1 + p_c) and 0 for every other label.
    """
    shares = label_shares(gold, n_labels)
    constant = np.max(2 * shares / (1 + shares), axis=-1) / n_labels
    if train_shares is None:
        return constant
    return np.maximum(constant, guessing_macro_f1_batch(gold, n_labels, train_shares))


def chance_macro_f1(gold: np.ndarray, n_labels: int, train_shares=None) -> float:
    """Chance Macro-F1 on this test set: the best constant predictor, max_c 2 p_c / (1 + p_c) / L, or
    guessing by the training label shares when `train_shares` is given and that scores more."""
    return float(chance_macro_f1_batch(gold, n_labels, train_shares))


def chance_accuracy_batch(gold: np.ndarray, n_labels: int, train_shares=None) -> np.ndarray:
    """Chance accuracy over the last axis: the majority label's share (the best constant predictor),
    or guessing by the training shares, sum_c p_c q_c, where that scores more (it never does)."""
    shares = label_shares(gold, n_labels)
    best = np.max(shares, axis=-1)
    if train_shares is None:
        return best
    return np.maximum(best, shares @ _train_shares(train_shares, n_labels))


def metric_batch(metric: str, gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """The named metric (scoring.METRICS) over the last axis."""
    return scoring.metric(metric).scores(gold, pred, n_labels)


def chance_batch(metric: str, gold: np.ndarray, n_labels: int, train_shares=None) -> np.ndarray:
    """Chance under the named metric (scoring.METRICS), over the last axis."""
    return scoring.metric(metric).chance_scores(gold, n_labels, train_shares)


def chance(metric: str, gold: np.ndarray, n_labels: int, train_shares=None) -> float:
    """Chance under the named metric on this test set (chance_batch on one set of items)."""
    return float(chance_batch(metric, gold, n_labels, train_shares))


def _check_metric(metric: str) -> None:
    scoring.metric(metric)   # a ValueError naming the registered metrics


# --------------------------------------------------------------------------- input checks

def _gold(gold) -> np.ndarray:
    gold = np.asarray(gold)
    if gold.ndim != 1 or gold.size < 2:
        raise ValueError(f"gold must be a 1-D array of at least 2 test items, got shape {gold.shape}")
    return gold


def _replicates(preds, n_items: int, name: str = "preds") -> np.ndarray:
    """Predictions as (R, n); a single 1-D prediction vector counts as one replicate."""
    preds = np.asarray(preds)
    if preds.ndim == 1:
        preds = preds[None, :]
    if preds.ndim != 2 or preds.shape[0] < 1 or preds.shape[1] != n_items:
        raise ValueError(f"{name} must have shape (replicates, {n_items}) to match gold, got {preds.shape}")
    return preds


# --------------------------------------------------------------------------- the combined interval

def item_standard_error(statistic: Callable, data: tuple[np.ndarray, ...], *, confidence: float = 0.95,
                        n_resamples: int = 1000, seed: int = 0) -> float:
    """Bootstrap standard error over test items, resampled jointly across every array in `data`.

    scipy.stats.bootstrap draws the item indices; every array is indexed with the same draw. This
    is what bootstrap(paired=True) does internally, minus its broadcasting of the arrays against
    each other, which would reject sources with different replicate counts.
    """
    data = tuple(np.asarray(array) for array in data)
    n_items = data[0].shape[-1]
    if any(array.shape[-1] != n_items for array in data):
        raise ValueError(f"every array must have the test items on its last axis ({n_items} items), "
                         f"got shapes {[array.shape for array in data]}")
    if n_items < 2:
        raise ValueError(f"a bootstrap needs at least 2 test items, got {n_items}")

    def on_items(index, axis=-1):
        return statistic(*(array[..., index] for array in data), axis=axis)

    rows = sum(max(1, array.size // n_items) for array in data)
    batch = max(1, min(n_resamples, MAX_RESAMPLED_ELEMENTS // (rows * n_items)))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)   # NaN quantiles: handled below
        result = stats.bootstrap((np.arange(n_items),), on_items, n_resamples=n_resamples, batch=batch,
                                 vectorized=True, axis=-1, confidence_level=confidence,
                                 method="percentile", rng=np.random.default_rng(seed))
    distribution = np.asarray(result.bootstrap_distribution, dtype=float)
    if not np.all(np.isfinite(distribution)):
        return math.inf      # some resample left the statistic undefined: no finite precision claim
    return float(result.standard_error)


def replicate_part(per_replicate: Sequence[float]) -> tuple[float, int]:
    """(variance of the mean over replicates, its degrees of freedom); (0, 0) for one replicate."""
    values = np.asarray(per_replicate, dtype=float)
    if values.size < 2:
        return 0.0, 0
    return float(np.var(values, ddof=1) / values.size), values.size - 1


def interval_from_parts(value: float, item_se: float, parts: Sequence[tuple[float, int]], *,
                        n_items: int, n_replicates: int, confidence: float = 0.95) -> Estimate:
    """value +- t * se, se^2 = item_se^2 + sum of replicate parts, t with Welch-Satterthwaite df."""
    parts = [(variance, df) for variance, df in parts if df > 0 and variance != 0]     # NaN stays: it must show
    total = item_se ** 2 + sum(variance for variance, _ in parts)
    se = math.sqrt(total) if total >= 0 else math.nan
    if not math.isfinite(value) or math.isnan(se):
        return Estimate(value, math.nan, math.nan, math.nan, n_items, n_replicates)
    if math.isinf(se):
        return Estimate(float(value), -math.inf, math.inf, se, n_items, n_replicates)
    denominator = sum(variance ** 2 / df for variance, df in parts)
    df = total ** 2 / denominator if denominator > 0 else math.inf
    quantile = stats.t.ppf(0.5 + confidence / 2, df) if math.isfinite(df) else stats.norm.ppf(0.5 + confidence / 2)
    return Estimate(float(value), float(value - quantile * se), float(value + quantile * se), se,
                    n_items, n_replicates)


def combined_interval(statistic: Callable, data: tuple[np.ndarray, ...], per_replicate: Sequence[float], *,
                      confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """Interval of a mean-over-replicates statistic: item bootstrap + replicate variance (see module doc).

    statistic(*data, axis=-1) must work on the full arrays and vectorised on resampled ones, where
    an array of shape (R, n) arrives as (R, batch, n) and one of shape (n,) as (batch, n): reduce
    the last axis, then average axis 0 of the prediction arrays.
    """
    data = tuple(np.asarray(array) for array in data)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(*data, axis=-1))
    item_se = item_standard_error(statistic, data, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return interval_from_parts(value, item_se, [replicate_part(per_replicate)], n_items=data[0].shape[-1],
                               n_replicates=len(per_replicate), confidence=confidence)


# --------------------------------------------------------------------------- scores, gaps, shares

def score_interval(gold, preds, n_labels: int, metric: str = HEADLINE, **kw) -> Estimate:
    """One source's score (mean over its replicates) with its combined interval."""
    gold = _gold(gold)
    preds = _replicates(preds, gold.size)
    _check_metric(metric)

    def mean_score(gold, preds, axis=-1):
        return metric_batch(metric, gold, preds, n_labels).mean(axis=0)

    per_replicate = metric_batch(metric, gold, preds, n_labels)
    scale = scoring.metric(metric)
    return combined_interval(mean_score, (gold, preds), per_replicate, **kw).within(scale.low, scale.high)


def difference_interval(gold, preds_a, preds_b, n_labels: int, metric: str = HEADLINE, **kw) -> Estimate:
    """Score of a minus score of b, paired on items (and on replicates when both have as many)."""
    gold = _gold(gold)
    preds_a = _replicates(preds_a, gold.size, "preds_a")
    preds_b = _replicates(preds_b, gold.size, "preds_b")
    _check_metric(metric)

    def mean_difference(gold, preds_a, preds_b, axis=-1):
        return (metric_batch(metric, gold, preds_a, n_labels).mean(axis=0)
                - metric_batch(metric, gold, preds_b, n_labels).mean(axis=0))

    scores_a = metric_batch(metric, gold, preds_a, n_labels)
    scores_b = metric_batch(metric, gold, preds_b, n_labels)
    if len(scores_a) == len(scores_b):
        parts = [replicate_part(scores_a - scores_b)]
    else:
        parts = [replicate_part(scores_a), replicate_part(scores_b)]
    width = scoring.metric(metric).high - scoring.metric(metric).low   # a difference of two scores lies within +-width
    return _interval(mean_difference, (gold, preds_a, preds_b), parts,
                     n_replicates=min(len(scores_a), len(scores_b)), **kw).within(-width, width)


def recovered_share_interval(gold, preds_syn, preds_real, n_labels: int, metric: str = HEADLINE, *,
                             min_lift: float, train_shares=None, **kw) -> Estimate:
    """(synthetic - chance) / (real - chance): the share of real data's lift over chance recovered.

    Chance (chance_batch) is the stronger of the best constant predictor and guessing by the training
    label shares (`train_shares`, when given), recomputed on every bootstrap resample of gold. When
    real data lifts the score less than `min_lift` (params: compare.verdict.min_real_lift) above
    chance the share is undefined: value and interval are NaN.
    """
    gold = _gold(gold)
    preds_syn = _replicates(preds_syn, gold.size, "preds_syn")
    preds_real = _replicates(preds_real, gold.size, "preds_real")
    _check_metric(metric)
    n_replicates = min(len(preds_syn), len(preds_real))

    scores_syn = metric_batch(metric, gold, preds_syn, n_labels)
    scores_real = metric_batch(metric, gold, preds_real, n_labels)
    chance = float(chance_batch(metric, gold, n_labels, train_shares))
    lift_syn, lift_real = scores_syn.mean() - chance, scores_real.mean() - chance
    if lift_real < min_lift:
        return Estimate(math.nan, math.nan, math.nan, math.nan, gold.size, n_replicates)

    def share(gold, preds_syn, preds_real, axis=-1):
        chance = chance_batch(metric, gold, n_labels, train_shares)
        return ((metric_batch(metric, gold, preds_syn, n_labels).mean(axis=0) - chance)
                / (metric_batch(metric, gold, preds_real, n_labels).mean(axis=0) - chance))

    # delta method: share moves by d(syn)/lift_real - share * d(real)/lift_real per replicate
    ratio = lift_syn / lift_real
    linear_syn = scores_syn / lift_real
    linear_real = -ratio * scores_real / lift_real
    if len(scores_syn) == len(scores_real):
        parts = [replicate_part(linear_syn + linear_real)]
    else:
        parts = [replicate_part(linear_syn), replicate_part(linear_real)]
    return _interval(share, (gold, preds_syn, preds_real), parts, n_replicates=n_replicates, **kw)


def _interval(statistic: Callable, data: tuple[np.ndarray, ...], parts: list[tuple[float, int]], *,
              n_replicates: int, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """combined_interval with replicate parts already computed (several sources, unpaired replicates)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(*data, axis=-1))
    item_se = item_standard_error(statistic, data, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return interval_from_parts(value, item_se, parts, n_items=data[0].shape[-1], n_replicates=n_replicates,
                               confidence=confidence)


# --------------------------------------------------------------------------- learning curves

CENSOR_BELOW, INSIDE, CENSOR_ABOVE = -1, 0, 1


def invert_curve(sizes: Sequence[float], scores: np.ndarray, target) -> tuple[np.ndarray, np.ndarray]:
    """Size at which a learning curve reaches `target`, vectorised over leading axes.

    scores has shape (..., k) for the k ascending sizes; target broadcasts against scores[..., 0].
    The curve is replaced by its running maximum (noise cannot make it fall, so the answer is
    unique) and interpolated linearly in log(size). Returns (size, code): code -1 when the target
    lies below the curve's first point (size = smallest), +1 above its maximum (size = largest).
    """
    sizes = np.asarray(sizes, dtype=float)
    if sizes.ndim != 1 or sizes.size < 1 or np.any(sizes <= 0) or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"curve sizes must be positive and strictly ascending, got {sizes.tolist()}")
    running_max = np.maximum.accumulate(np.asarray(scores, dtype=float), axis=-1)
    target = np.asarray(target, dtype=float)
    running_max, target = np.broadcast_arrays(running_max, target[..., None])
    target = target[..., 0]
    log_sizes = np.log(sizes)
    first_reaching = np.count_nonzero(running_max < target[..., None], axis=-1)     # index of first point >= target
    upper = np.clip(first_reaching, 1, sizes.size - 1) if sizes.size > 1 else np.zeros_like(first_reaching)
    lower = np.maximum(upper - 1, 0)
    score_low = np.take_along_axis(running_max, lower[..., None], axis=-1)[..., 0]
    score_high = np.take_along_axis(running_max, upper[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.clip(np.where(score_high > score_low, (target - score_low) / (score_high - score_low), 1.0), 0, 1)
    log_size = log_sizes[lower] + fraction * (log_sizes[upper] - log_sizes[lower])
    code = np.where(target < running_max[..., 0], CENSOR_BELOW,
                    np.where(first_reaching >= sizes.size, CENSOR_ABOVE, INSIDE))
    log_size = np.where(first_reaching == 0, log_sizes[0], log_size)
    log_size = np.where(code == CENSOR_ABOVE, log_sizes[-1], log_size)
    log_size = np.where(np.isnan(target), np.nan, log_size)       # an undefined target has no size
    return np.exp(log_size), code


def _sorted_curve(curve: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    points = sorted((float(n), float(score)) for n, score in curve)
    if not points:
        raise ValueError("a learning curve needs at least one (size, score) point")
    return np.array([n for n, _ in points]), np.array([score for _, score in points])


def real_equivalent(score: float, curve: Sequence[tuple[float, float]]) -> tuple[float, str]:
    """Real examples per label that reach `score` on the real learning curve, with a censoring flag.

    (n, "=") inside the curve's range, (smallest n, "<=") below it, (largest n, ">=") above it.
    """
    sizes, scores = _sorted_curve(curve)
    size, code = invert_curve(sizes, scores, score)
    return float(size), {CENSOR_BELOW: "<=", INSIDE: "=", CENSOR_ABOVE: ">="}[int(code)]


def synthetic_needed(target: float, curve: Sequence[tuple[float, float]]) -> tuple[float, str]:
    """Synthetic examples per label that reach `target` on a synthetic curve; (largest n, ">") if never."""
    sizes, scores = _sorted_curve(curve)
    size, code = invert_curve(sizes, scores, target)
    return float(size), {CENSOR_BELOW: "<=", INSIDE: "=", CENSOR_ABOVE: ">"}[int(code)]


@dataclass(frozen=True)
class ExchangeRate:
    """What synthetic data is worth in real examples per label (see exchange_rate_interval).

    estimate: value, low and high in examples per label (se in log2 units). censored: "=" when the
    point estimate lies inside the measured real curve, "<=" below its smallest size, ">=" above its
    largest. A censored value carries a one-sided bound only: "<=" an upper bound (low is 0), ">=" a
    lower bound (high is infinite). bracket: the two measured real sizes the point estimate lies
    between (interpolated linearly in log size), or the one size it sits on or beyond.
    """
    estimate: Estimate
    censored: str
    bracket: tuple[float, float]

    @property
    def bracket_fold(self) -> float:
        """How many times larger the upper bracketing size is than the lower (1 on a measured point)."""
        return self.bracket[1] / self.bracket[0]


def exchange_rate_interval(gold, real_curve_preds: dict[float, np.ndarray], syn_curve_preds: dict[int, np.ndarray],
                           n_labels: int, metric: str = HEADLINE, *, confidence: float = 0.95,
                           n_resamples: int = 1000, seed: int = 0) -> ExchangeRate:
    """What synthetic data at its largest size is worth in real examples per label, with interval.

    Statistic: log2 of the real size at which the real curve (mean over each point's fits, rebuilt
    on each bootstrap resample of the items) reaches the synthetic source's mean score at its
    largest size. Three parts of its variance:

    - item part: the bootstrap over test items (trained models fixed);
    - replicate part: replicate r's synthetic score inverted on replicate r's own real curve, where
      a real point has as many fits as there are synthetic replicates (each fit its own draw of real
      examples and its own training seed: the variance of which real data was drawn and which seed
      trained it), and on the point's mean where it has one fit (a deterministic backend on all real
      data: nothing varies but the items);
    - one part per real point with another number of fits k > 1 (e.g. all real data fitted with 2
      seeds beside 3 generation replicates): the variance of that point's mean, var / k with k - 1
      degrees of freedom, carried to log2(size) by the curve's slope there (delta method).

    The parts are added and the interval uses Welch-Satterthwaite degrees of freedom, in log2(size),
    then cut to the measured sizes: a bound at the smallest or largest real size reads "at most" or
    "at least" that size. A point estimate beyond the curve is censored and gets a one-sided bound at
    the same confidence (ExchangeRate).
    """
    gold = _gold(gold)
    _check_metric(metric)
    if not real_curve_preds or not syn_curve_preds:
        raise ValueError("exchange rate needs predictions for at least one real and one synthetic size")
    real_sizes = sorted(real_curve_preds)
    real_preds = [_replicates(real_curve_preds[n], gold.size, f"real_curve_preds[{n}]") for n in real_sizes]
    syn_largest = max(syn_curve_preds)
    syn_preds = _replicates(syn_curve_preds[syn_largest], gold.size, f"syn_curve_preds[{syn_largest}]")

    def log2_equivalent(gold, syn_preds, *real_preds, axis=-1):
        target = metric_batch(metric, gold, syn_preds, n_labels).mean(axis=0)
        curve = np.stack([metric_batch(metric, gold, preds, n_labels).mean(axis=0) for preds in real_preds], axis=-1)
        return np.log2(invert_curve(real_sizes, curve, target)[0])

    syn_scores = metric_batch(metric, gold, syn_preds, n_labels)
    point_scores = [metric_batch(metric, gold, preds, n_labels) for preds in real_preds]   # k arrays of (k_j,)
    mean_curve = np.array([scores.mean() for scores in point_scores])
    replicates = len(syn_scores)
    paired_curve = np.stack([scores if len(scores) == replicates else np.full(replicates, scores.mean())
                             for scores in point_scores], axis=-1)                        # (R, k)
    per_replicate = np.log2(invert_curve(real_sizes, paired_curve, syn_scores)[0])
    parts = [replicate_part(per_replicate)]
    target = float(syn_scores.mean())
    for j, scores in enumerate(point_scores):
        if len(scores) != replicates and len(scores) > 1:
            slope = _log2_slope(real_sizes, mean_curve, target, j)
            parts.append((slope ** 2 * float(np.var(scores, ddof=1)) / len(scores), len(scores) - 1))

    point_size, code = invert_curve(real_sizes, mean_curve, target)
    censored = {CENSOR_BELOW: "<=", INSIDE: "=", CENSOR_ABOVE: ">="}[int(code)]
    one_sided = censored != "="
    level = 2 * confidence - 1 if one_sided else confidence     # one side of a two-sided interval at `level`
    data = (gold, syn_preds, *real_preds)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(log2_equivalent(*data, axis=-1))
    item_se = item_standard_error(log2_equivalent, data, confidence=level, n_resamples=n_resamples, seed=seed)
    estimate = interval_from_parts(value, item_se, parts, n_items=gold.size, n_replicates=replicates,
                                   confidence=level)
    smallest, largest = math.log2(real_sizes[0]), math.log2(real_sizes[-1])
    low = min(max(estimate.low, smallest), largest) if math.isfinite(estimate.low) else smallest
    high = max(min(estimate.high, largest), smallest) if math.isfinite(estimate.high) else largest
    if math.isnan(estimate.se):
        low = high = math.nan
    if censored == "<=":
        low = -math.inf                       # at most the upper bound; nothing is known below the curve
    elif censored == ">=":
        high = math.inf                       # at least the lower bound; nothing is known above the curve
    in_examples = Estimate(2.0 ** value, 2.0 ** low, 2.0 ** high, estimate.se, estimate.n_items,
                           estimate.n_replicates)
    return ExchangeRate(in_examples, censored, _bracket(real_sizes, mean_curve, float(point_size), censored))


def _log2_slope(sizes: list[float], curve: np.ndarray, target: float, j: int, step: float = 1e-3) -> float:
    """d log2(size reaching target) / d curve[j]: a central difference (the inversion is piecewise linear)."""
    up, down = curve.copy(), curve.copy()
    up[j] += step
    down[j] -= step
    return float((np.log2(invert_curve(sizes, up, target)[0]) - np.log2(invert_curve(sizes, down, target)[0]))
                 / (2 * step))


def _bracket(sizes: list[float], curve: np.ndarray, size: float, censored: str) -> tuple[float, float]:
    if censored == "<=":
        return (sizes[0], sizes[0])
    if censored == ">=":
        return (sizes[-1], sizes[-1])
    for measured in sizes:
        if math.isclose(size, measured, rel_tol=1e-9):
            return (measured, measured)
    above = next((measured for measured in sizes if measured > size), sizes[-1])
    below = max((measured for measured in sizes if measured < size), default=sizes[0])
    return (below, above)


# --------------------------------------------------------------------------- means over tasks

def mean_over_tasks(values: dict[str, float], *, confidence: float = 0.95, min_tasks: int = 3) -> dict:
    """Mean of per-task values with a t interval over tasks, and what each task does to it.

    The task is the unit: se = sd(values) / sqrt(T) with T - 1 degrees of freedom, so the interval
    counts the spread between tasks (a task's own sampling error is part of that spread), not only
    the tasks' own standard errors. Below `min_tasks` tasks no interval is given ("testable" false).
    leave_one_out: the interval without each task in turn (from 3 tasks on); "driven_by" lists the
    tasks whose removal changes whether the interval excludes 0.
    """
    present = {task: float(value) for task, value in values.items() if value is not None and math.isfinite(value)}
    n_tasks = len(present)
    method = f"mean over tasks, Student t interval over tasks (df = T - 1); none below {min_tasks} tasks"
    if n_tasks == 0:
        return {"value": None, "low": None, "high": None, "n_tasks": 0, "testable": False, "method": method,
                "leave_one_out": {}, "driven_by": []}
    value, low, high = _t_interval(list(present.values()), confidence)
    testable = n_tasks >= max(2, min_tasks)
    result = {"value": value, "low": low if testable else None, "high": high if testable else None,
              "n_tasks": n_tasks, "testable": testable, "method": method, "leave_one_out": {}, "driven_by": []}
    if testable and n_tasks >= 3:
        excludes = low > 0 or high < 0
        for task in present:
            rest = [v for other, v in present.items() if other != task]
            v, lo, hi = _t_interval(rest, confidence)
            result["leave_one_out"][task] = {"value": v, "low": lo, "high": hi}
            if (lo > 0 or hi < 0) != excludes:
                result["driven_by"].append(task)
    return result


def _t_interval(values: list[float], confidence: float) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, math.nan, math.nan
    se = float(np.std(values, ddof=1)) / math.sqrt(len(values))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)) * se
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------- correlation across tasks

def correlation_test(x: Sequence[float], y: Sequence[float], *, n_resamples: int = 9999, seed: int = 0) -> dict:
    """Spearman rho between two per-task series with a two-sided permutation p-value.

    The task is the unit: pairs with a missing value (None or NaN) are dropped and n counts the
    rest. scipy.stats.permutation_test re-pairs x with y (permutation_type="pairings"); it is
    exact, over all n! pairings, when n! <= n_resamples. rho and p are None when n < 3 or one
    side is constant.
    """
    if len(x) != len(y):
        raise ValueError(f"correlation needs one x and one y per task, got {len(x)} and {len(y)} values")
    pairs = [(float(a), float(b)) for a, b in zip(x, y, strict=True)
             if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b))]
    n = len(pairs)
    exact = n >= 1 and math.factorial(n) <= n_resamples
    method = ("Spearman rho, two-sided permutation test over "
              + (f"all {math.factorial(n)} pairings (exact)" if exact else f"{n_resamples} random pairings"))
    ranks_x = stats.rankdata([a for a, _ in pairs])
    ranks_y = stats.rankdata([b for _, b in pairs])
    if n < 3 or np.ptp(ranks_x) == 0 or np.ptp(ranks_y) == 0:
        return {"rho": None, "p": None, "n": n, "method": method}
    centred_y = ranks_y - ranks_y.mean()

    def rho(ranks, axis=-1):
        centred = ranks - ranks.mean(axis=axis, keepdims=True)
        spread = np.sqrt(np.sum(centred ** 2, axis=axis) * np.sum(centred_y ** 2))
        return np.sum(centred * centred_y, axis=axis) / spread

    result = stats.permutation_test((ranks_x,), rho, permutation_type="pairings", n_resamples=n_resamples,
                                    alternative="two-sided", vectorized=True, axis=-1,
                                    rng=np.random.default_rng(seed))
    return {"rho": float(result.statistic), "p": float(result.pvalue), "n": n, "method": method}


def critical_spearman(n: int, alpha: float = 0.05) -> float | None:
    """The smallest |Spearman rho| that a two-sided permutation test over n tasks (no ties) can call
    significant at `alpha` (p < alpha); None when no value can (n <= 4 at 0.05).

    Exact over all n! pairings up to n = 8 (n = 6: 0.886, i.e. only |rho| >= 0.89 can be significant
    at 0.05); beyond that the normal approximation z / sqrt(n - 1).
    """
    if n < 3:
        return None
    if n > 8:
        return float(stats.norm.ppf(1 - alpha / 2) / math.sqrt(n - 1))
    import itertools

    ranks = np.arange(n, dtype=float)
    permutations = np.array(list(itertools.permutations(range(n))), dtype=float)
    null = np.round(1 - 6 * np.sum((permutations - ranks) ** 2, axis=1) / (n * (n * n - 1)), 12)
    magnitudes = np.abs(null)
    for value in np.unique(magnitudes):
        if np.mean(magnitudes >= value - 1e-12) < alpha:
            return float(value)
    return None
