"""Statistics core: interval coverage on simulated runs, exchange-rate recovery, metrics vs sklearn,
the permutation correlation test and the chance-normalised share."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from scipy.stats import t as t_distribution
from sklearn.metrics import accuracy_score, f1_score

from synthclf.statistics import (
    Estimate,
    accuracy_batch,
    chance_macro_f1,
    combined_interval,
    correlation_test,
    critical_spearman,
    difference_interval,
    exchange_rate_interval,
    guessing_macro_f1_batch,
    macro_f1_batch,
    mean_over_tasks,
    real_equivalent,
    recovered_share_interval,
    score_interval,
    synthetic_needed,
)

MIN_LIFT = 0.05     # params.yaml compare.verdict.min_real_lift

# --------------------------------------------------------------------------- simulated runs
# A balanced binary test set; item i is answered correctly with probability q_i + delta + u_r, where
# q_i ~ U(0.35, 0.75) is the item's ease (shared by every source, so sources are correlated on items),
# delta the source's quality and u_r ~ U(-spread, spread) a replicate's generation/training effect.
# Errors are symmetric between the two classes, so the population Macro-F1 equals the population
# accuracy: E[q] + delta = 0.55 + delta. That is the truth an interval must cover.

N_ITEMS, N_SIMULATIONS, N_RESAMPLES = 400, 200, 200
MEAN_EASE = 0.55
GOLD = np.arange(N_ITEMS) % 2


def simulate_source(rng, ease, delta, replicates, spread):
    effect = rng.uniform(-spread, spread, size=(replicates, 1))
    correct = rng.random((replicates, N_ITEMS)) < ease + delta + effect
    return np.where(correct, GOLD, 1 - GOLD)


def coverage(estimates, truth):
    return float(np.mean([estimate.low <= truth <= estimate.high for estimate in estimates]))


def simulate_differences(spread, replicates_a, replicates_b, seed):
    """Per simulation: the combined interval and an item-only interval of a - b (truth 0.08)."""
    rng = np.random.default_rng(seed)
    combined, item_only = [], []

    def mean_difference(gold, preds_a, preds_b, axis=-1):
        return macro_f1_batch(gold, preds_a, 2).mean(axis=0) - macro_f1_batch(gold, preds_b, 2).mean(axis=0)

    for simulation in range(N_SIMULATIONS):
        ease = rng.uniform(0.35, 0.75, N_ITEMS)
        preds_a = simulate_source(rng, ease, 0.10, replicates_a, spread)
        preds_b = simulate_source(rng, ease, 0.02, replicates_b, spread)
        combined.append(difference_interval(GOLD, preds_a, preds_b, 2, n_resamples=N_RESAMPLES, seed=simulation))
        # the same bootstrap without the replicate part: one "replicate" carries no replicate variance
        item_only.append(combined_interval(mean_difference, (GOLD, preds_a, preds_b), [combined[-1].value],
                                           n_resamples=N_RESAMPLES, seed=simulation))
    return combined, item_only


@pytest.mark.parametrize(("replicates_a", "replicates_b"), [(3, 3), (3, 2)])
def test_difference_interval_covers_the_true_difference(replicates_a, replicates_b):
    combined, _ = simulate_differences(0.05, replicates_a, replicates_b, seed=replicates_b)
    measured = coverage(combined, 0.08)
    print(f"difference coverage, spread 0.05, R {replicates_a}/{replicates_b}: {measured:.3f}")
    assert 0.90 <= measured <= 0.99
    assert all(estimate.n_items == N_ITEMS and estimate.n_replicates == replicates_b for estimate in combined)


def test_score_interval_covers_the_true_score():
    rng = np.random.default_rng(11)
    estimates = []
    for simulation in range(N_SIMULATIONS):
        ease = rng.uniform(0.35, 0.75, N_ITEMS)
        preds = simulate_source(rng, ease, 0.10, 3, 0.05)
        estimates.append(score_interval(GOLD, preds, 2, n_resamples=N_RESAMPLES, seed=simulation))
    measured = coverage(estimates, MEAN_EASE + 0.10)
    print(f"score coverage, spread 0.05, R 3: {measured:.3f}")
    assert 0.90 <= measured <= 0.99


def test_item_only_interval_undercovers_when_generation_varies_a_lot():
    combined, item_only = simulate_differences(0.15, 3, 3, seed=7)
    with_replicates, without = coverage(combined, 0.08), coverage(item_only, 0.08)
    print(f"difference coverage, spread 0.15, R 3/3: combined {with_replicates:.3f}, item-only {without:.3f}")
    # with R = 3 and generation dominating, Welch-Satterthwaite has about 2 degrees of freedom and runs
    # slightly short: 0.922 over 600 simulations (seed 100); 0.905 here
    assert 0.88 <= with_replicates <= 0.99
    assert without <= 0.80
    assert with_replicates - without >= 0.15


def test_combined_interval_adds_the_replicate_part_with_welch_satterthwaite_df():
    def constant(items, axis=-1):                # no item variance at all: only the replicates vary
        return np.full(np.shape(items)[:-1], 2.0)

    estimate = combined_interval(constant, (np.arange(50),), [1.0, 2.0, 3.0], n_resamples=50)
    assert estimate.value == 2.0 and estimate.se == pytest.approx(math.sqrt(1 / 3))
    assert estimate.high - estimate.value == pytest.approx(t_distribution.ppf(0.975, 2) * math.sqrt(1 / 3))
    # one replicate: the item bootstrap alone, with the normal quantile
    gold = np.arange(300) % 2
    preds = np.where(np.random.default_rng(0).random(300) < 0.7, gold, 1 - gold)[None, :]
    single = score_interval(gold, preds, 2, n_resamples=300)
    assert single.n_replicates == 1 and single.se > 0
    assert (single.high - single.value) / single.se == pytest.approx(1.959964, abs=1e-5)
    undefined = combined_interval(constant, (np.arange(50),), [1.0, float("nan")], n_resamples=50)
    assert math.isnan(undefined.low) and math.isnan(undefined.high)


def test_difference_is_paired_on_items():
    """Two sources that err on nearly the same items: their gap is far surer than either score."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 500)
    wrong = rng.random(500) < 0.3
    preds_a = np.where(wrong, (gold + 1) % 3, gold)[None, :]
    preds_b = preds_a.copy()
    preds_b[0, np.flatnonzero(~wrong)[:10]] = (gold[np.flatnonzero(~wrong)[:10]] + 1) % 3   # b: 10 more errors
    gap = difference_interval(gold, preds_a, preds_b, 3, n_resamples=400)
    single = score_interval(gold, preds_a, 3, n_resamples=400)
    assert gap.value > 0 and gap.significant()
    assert gap.se < single.se / 3


# --------------------------------------------------------------------------- exchange rate

REAL_SIZES = [5, 10, 20, 40, 80, 160, 320, 640]


def real_curve_value(n):
    return 0.95 - 0.45 / np.sqrt(n)


@pytest.mark.parametrize("ratio", [2.0, 3.0, 5.0, 8.0])
def test_exchange_rate_recovered_from_curves_with_a_known_ratio(ratio):
    real = [(n, real_curve_value(n)) for n in REAL_SIZES]
    synthetic_sizes = [8, 16, 32, 64, 128, 256, 512, 1024]          # synthetic at n scores like real at n/ratio
    synthetic = [(n, real_curve_value(n / ratio)) for n in synthetic_sizes]
    worth, flag = real_equivalent(synthetic[-1][1], real)
    assert flag == "=" and worth == pytest.approx(1024 / ratio, rel=0.05)
    for m in (10, 20, 40):
        needed, flag = synthetic_needed(real_curve_value(m), synthetic)
        assert flag == "=" and needed == pytest.approx(ratio * m, rel=0.05)


def test_exchange_rate_censoring_at_both_ends():
    real = [(n, real_curve_value(n)) for n in REAL_SIZES]
    assert real_equivalent(0.99, real) == (pytest.approx(640), ">=")
    assert real_equivalent(0.10, real) == (pytest.approx(5), "<=")
    synthetic = [(20, 0.6), (100, 0.7)]
    assert synthetic_needed(0.8, synthetic) == (pytest.approx(100), ">")
    assert synthetic_needed(0.5, synthetic) == (pytest.approx(20), "<=")
    # order of the points does not matter; the inversion sits on the running maximum, so a noisy dip
    # (0.65 after 0.7) cannot give a second, larger answer
    noisy = [(40, 0.8), (5, 0.5), (20, 0.65), (10, 0.7)]
    size, flag = real_equivalent(0.68, noisy)
    assert flag == "=" and 5 < size < 10
    assert real_equivalent(0.75, noisy)[0] == pytest.approx(math.exp((math.log(20) + math.log(40)) / 2))


def predictions_with_macro_f1(rng, score, replicates, n_items):
    """Balanced binary predictions with exactly round((1 - score) * n/2) errors per class: Macro-F1 = accuracy."""
    gold = np.arange(n_items) % 2
    per_class = n_items // 2
    errors = round((1 - score) * per_class)
    preds = np.tile(gold, (replicates, 1))
    for row in preds:
        for label in (0, 1):
            wrong = rng.choice(np.flatnonzero(gold == label), errors, replace=False)
            row[wrong] = 1 - label
    return preds


def test_exchange_rate_interval_on_predictions_with_a_known_ratio():
    rng = np.random.default_rng(5)
    n_items, ratio = 4000, 4
    gold = np.arange(n_items) % 2
    real = {n: predictions_with_macro_f1(rng, real_curve_value(n), 2, n_items) for n in REAL_SIZES}
    synthetic = {n: predictions_with_macro_f1(rng, real_curve_value(n / ratio), 3, n_items) for n in (100, 400)}
    rate = exchange_rate_interval(gold, real, synthetic, 2, n_resamples=200)
    estimate, flag = rate.estimate, rate.censored
    measured_curve = [(n, macro_f1_batch(gold, real[n], 2).mean()) for n in REAL_SIZES]
    expected, _ = real_equivalent(macro_f1_batch(gold, synthetic[400], 2).mean(), measured_curve)
    assert flag == "="
    assert estimate.value == pytest.approx(expected, rel=1e-9)
    assert estimate.value == pytest.approx(400 / ratio, rel=0.10)
    assert estimate.low < estimate.value < estimate.high and estimate.low > 5
    assert (estimate.n_items, estimate.n_replicates) == (n_items, 3)
    # synthetic data better than the whole real curve: worth at least the largest real size
    better = {400: predictions_with_macro_f1(rng, 0.99, 3, n_items)}
    rate = exchange_rate_interval(gold, real, better, 2, n_resamples=50)
    assert rate.censored == ">=" and rate.estimate.value == pytest.approx(640)
    # censored above: a one-sided lower bound, no upper one, never below the smallest size measured
    assert rate.estimate.high == math.inf and 5 <= rate.estimate.low <= 640


# --------------------------------------------------------------------------- metrics

def test_macro_f1_batch_equals_sklearn_including_absent_labels():
    rng = np.random.default_rng(0)
    n_labels = 5
    gold = rng.integers(0, n_labels - 1, size=(40, 12))         # label 4 never gold; small n: others absent too
    pred = rng.integers(0, n_labels, size=(40, 12))
    pred[::7] = gold[::7]                                        # some perfect rows
    pred[1::9] = 0                                               # some constant rows
    ours = macro_f1_batch(gold, pred, n_labels)
    rows = list(zip(gold, pred, strict=True))
    expected = [f1_score(g, p, labels=range(n_labels), average="macro", zero_division=0) for g, p in rows]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(accuracy_batch(gold, pred), [accuracy_score(g, p) for g, p in rows])
    # broadcasting: one gold vector against (resamples, replicates, n) predictions
    stacked = pred.reshape(4, 10, 12)
    np.testing.assert_allclose(macro_f1_batch(gold[0], stacked, n_labels).ravel(),
                               [f1_score(gold[0], p, labels=range(n_labels), average="macro", zero_division=0)
                                for p in pred])


def test_chance_macro_f1_is_the_best_constant_predictor():
    rng = np.random.default_rng(1)
    for n_labels in (2, 3, 6):
        present = n_labels - 1 if n_labels > 2 else n_labels     # the last label is absent when L > 2
        gold = rng.choice(present, size=50)
        best = max(f1_score(gold, np.full_like(gold, label), labels=range(n_labels), average="macro",
                            zero_division=0) for label in range(n_labels))
        assert chance_macro_f1(gold, n_labels) == pytest.approx(best, abs=1e-12)
    assert chance_macro_f1(np.array([0, 1] * 50), 2) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- correlation across tasks

def test_correlation_exact_p_equals_the_count_over_all_720_pairings():
    x = [0.10, 0.40, 0.35, 0.80, 0.60, 0.90]
    y = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0]
    result = correlation_test(x, y)
    observed = spearmanr(x, y).statistic
    null = np.array([spearmanr(permuted, y).statistic for permuted in itertools.permutations(x)])
    assert len(null) == 720
    expected_p = np.mean(np.abs(null) >= abs(observed) - 1e-12)
    assert result["rho"] == pytest.approx(observed)
    assert result["p"] == pytest.approx(expected_p, abs=1e-12)
    assert result["n"] == 6 and "720" in result["method"] and "exact" in result["method"]


def test_correlation_edge_cases():
    perfect = correlation_test([1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60])
    assert perfect["rho"] == pytest.approx(1.0) and perfect["p"] == pytest.approx(2 / 720)
    assert correlation_test([1, 2, 3, 4], [5, 5, 5, 5])["rho"] is None
    assert correlation_test([1, 2, 3, 4], [5, 5, 5, 5])["p"] is None
    assert correlation_test([1, 2], [3, 4]) == {"rho": None, "p": None, "n": 2,
                                                "method": correlation_test([1, 2], [3, 4])["method"]}
    dropped = correlation_test([1, 2, 3, None, 5], [1, 2, 3, 4, float("nan")])
    assert dropped["n"] == 3 and dropped["rho"] == pytest.approx(1.0)
    sampled = correlation_test(list(range(10)), list(range(10)), n_resamples=999)
    # random pairings: the observed pairing counts once (+1), two-sided doubles the tail
    assert "999 random" in sampled["method"] and sampled["p"] == pytest.approx(2 / 1000)
    with pytest.raises(ValueError, match="one x and one y per task"):
        correlation_test([1, 2, 3], [1, 2])


# --------------------------------------------------------------------------- recovered share, Estimate

def test_recovered_share_is_undefined_when_real_data_is_at_chance():
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 2, 300)
    majority = np.bincount(gold).argmax()
    real = np.full((2, 300), majority)                           # the best constant predictor: exactly chance
    synthetic = np.where(rng.random((3, 300)) < 0.7, gold, 1 - gold)
    share = recovered_share_interval(gold, synthetic, real, 2, min_lift=MIN_LIFT, n_resamples=100)
    assert math.isnan(share.value) and math.isnan(share.low) and math.isnan(share.high)
    assert not share.significant()
    assert share.as_dict()["value"] is None and share.as_dict()["n_items"] == 300


def test_recovered_share_is_one_when_synthetic_equals_real():
    rng = np.random.default_rng(4)
    gold = rng.integers(0, 3, 300)
    real = np.where(rng.random((3, 300)) < 0.8, gold, (gold + 1) % 3)
    share = recovered_share_interval(gold, real.copy(), real, 3, min_lift=MIN_LIFT, n_resamples=200)
    assert share.value == pytest.approx(1.0)
    assert share.low == pytest.approx(1.0) and share.high == pytest.approx(1.0)
    worse = np.where(rng.random((3, 300)) < 0.6, gold, (gold + 1) % 3)
    partial = recovered_share_interval(gold, worse, real, 3, min_lift=MIN_LIFT, n_resamples=200)
    assert 0 < partial.value < 1 and partial.low < partial.value < partial.high
    assert partial.significant(1.0)


def test_estimate_helpers():
    estimate = Estimate(0.1234567, 0.05, 0.2, 0.04, 100, 3)
    assert estimate.significant() and not estimate.significant(0.1)
    assert estimate.as_dict(3) == {"value": 0.123, "low": 0.05, "high": 0.2, "se": 0.04, "n_items": 100,
                                   "n_replicates": 3}
    assert Estimate(0.1, -math.inf, math.inf, math.inf, 10, 1).as_dict()["low"] is None
    with pytest.raises(ValueError, match="shape"):
        score_interval(np.zeros(10, int), np.zeros((2, 9), int), 2)
    with pytest.raises(ValueError, match="unknown metric"):
        score_interval(np.zeros(10, int), np.zeros((2, 10), int), 2, metric="f2")


def test_exchange_rate_counts_the_real_points_fitted_with_fewer_seeds_than_replicates():
    """All real data fitted with 2 seeds beside 3 generation replicates, the seeds far apart: that
    point's own variance enters with 1 degree of freedom (delta method), so the interval is much
    wider than with the same point fitted identically (a deterministic backend: item part alone)."""
    rng = np.random.default_rng(3)
    n_items = 400
    gold = np.arange(n_items) % 2

    def noisy(accuracies):
        return predictions_with_macro_f1_each(rng, accuracies, n_items)

    curve = {5: noisy([0.6, 0.6, 0.6]), 10: noisy([0.7, 0.7, 0.7])}
    synthetic = {10: noisy([0.76, 0.76, 0.76])}
    seeds_apart = exchange_rate_interval(gold, {**curve, 100: noisy([0.74, 0.86])}, synthetic, 2, n_resamples=200)
    deterministic_preds = noisy([0.8])
    identical = exchange_rate_interval(gold, {**curve, 100: np.repeat(deterministic_preds, 2, axis=0)}, synthetic, 2,
                                       n_resamples=200)
    assert seeds_apart.censored == identical.censored == "="
    assert seeds_apart.estimate.value == pytest.approx(identical.estimate.value, rel=0.05)
    assert seeds_apart.estimate.se > 2 * identical.estimate.se
    # the part added is (d log2 size / d score)^2 var / k with k - 1 = 1 df: t = 12.7 widens it to the curve's ends
    assert seeds_apart.estimate.low == pytest.approx(5) and seeds_apart.estimate.high == pytest.approx(100)
    assert identical.estimate.high < 100


def predictions_with_macro_f1_each(rng, scores, n_items):
    """One row per score, each built like predictions_with_macro_f1 (exact Macro-F1 per row)."""
    return np.concatenate([predictions_with_macro_f1(rng, score, 1, n_items) for score in scores])


def test_exchange_rate_interval_is_cut_to_the_measured_sizes_and_censored_values_are_one_sided():
    """Today's failure: sms_spam zero-shot '<= 2' with [0.83, 4.8] (a bound below the smallest size
    measured) and seinfeld '<= 2' with [2, 2] and se 0. Censored below: value = the smallest size,
    low 0 (nothing measured below), high a one-sided bound; inside: never beyond the measured sizes."""
    rng = np.random.default_rng(8)
    n_items = 300
    gold = np.arange(n_items) % 2
    real = {2: predictions_with_macro_f1_each(rng, [0.62, 0.58, 0.60], n_items),
            5: predictions_with_macro_f1_each(rng, [0.70, 0.66, 0.68], n_items),
            10: predictions_with_macro_f1_each(rng, [0.75, 0.73, 0.74], n_items)}
    below = {10: predictions_with_macro_f1_each(rng, [0.55, 0.62, 0.57], n_items)}
    rate = exchange_rate_interval(gold, real, below, 2, n_resamples=200)
    assert rate.censored == "<=" and rate.estimate.value == pytest.approx(2)
    assert rate.estimate.low == 0 and 2 <= rate.estimate.high <= 10
    assert rate.bracket == (2, 2)
    far_below = {10: predictions_with_macro_f1_each(rng, [0.40, 0.40, 0.40], n_items)}
    rate = exchange_rate_interval(gold, real, far_below, 2, n_resamples=200)
    assert rate.censored == "<=" and rate.estimate.high == pytest.approx(2) and rate.estimate.low == 0
    inside = {10: predictions_with_macro_f1_each(rng, [0.66, 0.60, 0.73], n_items)}
    rate = exchange_rate_interval(gold, real, inside, 2, n_resamples=200)
    assert rate.censored == "=" and 2 <= rate.estimate.low <= rate.estimate.value <= rate.estimate.high <= 10
    assert rate.bracket == (2, 5) and rate.bracket_fold == pytest.approx(2.5)


def test_intervals_from_two_disagreeing_replicates_stay_on_the_scale():
    """Two replicates 40 points apart: t with 1 df is 12.7 and value +- t*se leaves [0, 1]; the interval
    is cut to the scale (scores in [0, 1], differences in [-1, 1]) but keeps its standard error."""
    rng = np.random.default_rng(5)
    gold = np.arange(300) % 2
    preds = np.stack([np.where(rng.random(300) < accuracy, gold, 1 - gold) for accuracy in (0.55, 0.95)])
    score = score_interval(gold, preds, 2, n_resamples=200)
    raw_half_width = t_distribution.ppf(0.975, 1) * score.se
    assert score.value - raw_half_width < 0 and score.value + raw_half_width > 1   # the uncut interval
    assert (score.low, score.high) == (0.0, 1.0)
    flipped = 1 - preds
    difference = difference_interval(gold, preds, flipped, 2, n_resamples=200)
    assert -1.0 <= difference.low < difference.value < difference.high <= 1.0
    assert difference.low == -1.0 or difference.high == 1.0


# --------------------------------------------------------------------------- chance, pooling, critical rho

def test_chance_is_the_stronger_of_guessing_by_training_shares_and_the_best_constant():
    balanced = np.array([0, 1] * 50)
    assert chance_macro_f1(balanced, 2) == pytest.approx(1 / 3)                       # the constant alone
    assert chance_macro_f1(balanced, 2, [0.5, 0.5]) == pytest.approx(0.5)             # guessing: a coin flip
    # guessing equals its expectation: simulate guesses drawn with the training shares
    rng = np.random.default_rng(0)
    gold = rng.choice(3, size=3000, p=[0.6, 0.3, 0.1])
    shares = [0.5, 0.3, 0.2]
    guesses = rng.choice(3, size=(400, 3000), p=shares)
    simulated = f1_score_rows(gold, guesses, 3).mean()
    assert guessing_macro_f1_batch(gold, 3, shares) == pytest.approx(simulated, abs=0.003)
    # a very unbalanced test set: the constant majority label wins
    skewed = np.array([0] * 95 + [1] * 5)
    constant = 2 * 0.95 / 1.95 / 2
    guessing = (2 * .95 * .5 / 1.45 + 2 * .05 * .5 / .55) / 2
    assert chance_macro_f1(skewed, 2, [0.5, 0.5]) == pytest.approx(max(constant, guessing))
    with pytest.raises(ValueError, match="label shares"):
        chance_macro_f1(balanced, 2, [0.5, 0.6])


def f1_score_rows(gold, rows, n_labels):
    return macro_f1_batch(gold, rows, n_labels)


def test_mean_over_tasks_is_a_t_interval_over_tasks_and_names_a_driving_task():
    """The issue's numbers: few - zero by task 0, 10, 28.1, -0.1, 0.4, 0.5 points gives [-5.4, 18.4]."""
    values = dict(zip("abcdef", [0.0, 0.10, 0.281, -0.001, 0.004, 0.005], strict=True))
    result = mean_over_tasks(values, confidence=0.95, min_tasks=3)
    assert result["value"] == pytest.approx(0.0648, abs=1e-4)
    assert result["low"] == pytest.approx(-0.054, abs=1e-3) and result["high"] == pytest.approx(0.184, abs=1e-3)
    assert result["testable"] and set(result["leave_one_out"]) == set(values)
    # two tasks: below min_tasks, no interval at all
    two = mean_over_tasks({"a": 0.15, "b": -0.05}, min_tasks=3)
    assert not two["testable"] and two["low"] is None and two["value"] == pytest.approx(0.05)
    # three tasks, one carrying the effect: leaving it out flips the conclusion
    driven = mean_over_tasks({"a": 0.30, "b": 0.31, "c": 0.29, "d": 0.30, "e": -0.6}, min_tasks=3)
    assert driven["low"] < 0 and driven["driven_by"] == ["e"]


def test_critical_spearman_for_six_tasks_is_0_89():
    assert critical_spearman(6, 0.05) == pytest.approx(1 - 4 / 35)          # 0.886: only |rho| >= 0.89 counts
    assert critical_spearman(4, 0.05) is None                              # 4! = 24 pairings: p >= 1/12
    exact = correlation_test([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 6, 5])       # rho = 1 - 6*2/210 = 0.943
    assert exact["p"] < 0.05 and exact["rho"] >= critical_spearman(6)
    below = correlation_test([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])       # rho = 1 - 6*6/210 = 0.829 < 0.886
    assert below["p"] >= 0.05


# --------------------------------------------------------------------------- coverage of share and exchange rate
# Each test item has an ease shared by every model (items correlate the sources); a fit (a
# generation replicate, or a draw of real data with its seed) moves a model's accuracy by u ~
# U(-spread, spread). Balanced binary gold and symmetric errors: population Macro-F1 = accuracy.

def simulate_fit(rng, ease, accuracy, fits, spread):
    effect = rng.uniform(-spread, spread, size=(fits, 1))
    correct = rng.random((fits, N_ITEMS)) < np.clip(ease + accuracy + effect, 0, 1)
    return np.where(correct, GOLD, 1 - GOLD)


def test_recovered_share_interval_covers_the_true_share():
    """Real 0.80, synthetic 0.70, chance 0.5 (guessing by balanced shares): true share 2/3."""
    rng = np.random.default_rng(21)
    estimates = []
    for simulation in range(N_SIMULATIONS):
        ease = rng.uniform(-0.15, 0.15, N_ITEMS)
        real = simulate_fit(rng, ease, 0.80, 3, 0.04)
        synthetic = simulate_fit(rng, ease, 0.70, 3, 0.04)
        estimates.append(recovered_share_interval(GOLD, synthetic, real, 2, train_shares=[0.5, 0.5],
                                                  min_lift=MIN_LIFT, n_resamples=N_RESAMPLES, seed=simulation))
    measured = coverage(estimates, 2 / 3)
    print(f"share coverage, spread 0.04, R 3/3: {measured:.3f}")
    assert 0.88 <= measured <= 0.995


def true_curve(n):
    """A real learning curve straight in log2(size), so log-size interpolation has no bias: the truth
    for a synthetic score of true_curve(8) is exactly 8 real per label."""
    return 0.55 + 0.06 * np.log2(n)


@pytest.mark.parametrize("fits_at_10", [3, 2])
def test_exchange_rate_interval_covers_the_true_real_equivalent(fits_at_10):
    """Which real examples were drawn and which seed trained them moves a real point by up to 0.10,
    generation by 0.02. Paired real curves (3 fits a point), and real@10 with 2 fits beside 3
    replicates (its variance through the curve's slope; the code before issue 24 inverted on the mean
    real curve there and covered 75%)."""
    rng = np.random.default_rng(30 + fits_at_10)
    estimates = []
    for simulation in range(N_SIMULATIONS // 2):
        ease = rng.uniform(-0.15, 0.15, N_ITEMS)
        real = {n: simulate_fit(rng, ease, true_curve(n), fits_at_10 if n == 10 else 3, 0.10) for n in (2, 5, 10, 20)}
        synthetic = {10: simulate_fit(rng, ease, true_curve(8), 3, 0.02)}
        estimates.append(exchange_rate_interval(GOLD, real, synthetic, 2, n_resamples=N_RESAMPLES // 2,
                                                seed=simulation).estimate)
    measured = coverage(estimates, 8.0)
    print(f"exchange-rate coverage, real spread 0.10, fits at 10: {fits_at_10}: {measured:.3f}")
    assert 0.88 <= measured <= 1.0
