"""The verdict rules, case by case: each threshold with an interval just on either side of it.

A verdict stands only on an interval: replace on the share's lower bound, augment on the mix's gap
upper bound and on the mix beating its N real alone, do not use when the intervals rule both out,
undecided otherwise (naming the interval and what would settle it) or when real data is at chance.
"""

from __future__ import annotations

import pytest

from synthclf.analysis import verdict
from synthclf.settings.compare import VerdictParams

THRESHOLDS = VerdictParams(replace_share=0.9, within_points=1.0, min_real_lift=0.05)
SETTINGS = ["zero_shot", "few_shot"]
MIX = ("few_shot+real100", 100)
EPS = 0.0001


def estimate(value: float, low: float, high: float, se: float = 0.02, n_items: int = 500, n_replicates: int = 3):
    return {"value": value, "low": low, "high": high, "se": se, "n_items": n_items, "n_replicates": n_replicates}


def block(*, lift=0.4, share=None, gap=None, gain=None, exchange=None) -> dict:
    """A task block: few-shot's share, the mix's gap to real and its gain over its real alone."""
    result = {"real_lift": lift,
              "share_zero_shot": estimate(0.2, 0.1, 0.3),
              "share_few_shot": share or estimate(0.5, 0.4, 0.6),
              "exchange_few_shot": exchange or {"value": 6.2, "low": 2.5, "high": 14.0, "censored": "=",
                                                "synthetic_size": 10, "bracket": [5, 10], "interpolated": False}}
    if gap is not None:
        result["gap_few_shot+real100"] = gap
    if gain is not None:
        result["gain_few_shot+real100"] = gain
    return result


def decide(task_block: dict, mixes=(MIX,)) -> dict:
    return verdict.decide(task_block, SETTINGS, list(mixes), THRESHOLDS)


SHORT_GAP = estimate(0.05, 0.03, 0.07)           # the mix is shown more than 1 point below real
SHORT_GAIN = estimate(-0.01, -0.03, 0.0)         # the mix is shown to add nothing to its real alone


# --- real data at chance -------------------------------------------------------------------------

@pytest.mark.parametrize(("lift", "decided"), [(0.05 - EPS, False), (0.05, True), (0.05 + EPS, True)])
def test_min_real_lift_either_side(lift, decided):
    result = decide(block(lift=lift, share=estimate(0.95, 0.91, 0.99)))
    assert (result["decision"] == "replace") == decided
    if not decided:
        assert result["decision"] == "undecided" and "beats chance by only" in result["text"]


# --- replace: the share's lower bound ------------------------------------------------------------

@pytest.mark.parametrize(("low", "decision"), [(0.9 - EPS, "undecided"), (0.9, "replace"), (0.9 + EPS, "replace")])
def test_replace_needs_the_share_lower_bound_at_the_threshold(low, decision):
    result = decide(block(share=estimate(0.95, low, 1.0)), mixes=())
    assert result["decision"] == decision
    if decision == "undecided":
        assert "few_shot's share 95% [90, 100] straddles 90%" in result["text"]
        assert "test items" in result["open"][0] and "replicates" in result["open"][0]


def test_a_point_estimate_above_the_threshold_is_not_enough():
    """The old rule's asymmetry: a share of 0.95 with its interval down to 0.6 is not 'replace'."""
    result = decide(block(share=estimate(0.95, 0.6, 1.3)), mixes=())
    assert result["decision"] == "undecided"


@pytest.mark.parametrize(("high", "decision"), [(0.9 - EPS, "do_not_use"), (0.9, "undecided")])
def test_do_not_use_needs_the_share_upper_bound_below_the_threshold(high, decision):
    result = decide(block(share=estimate(0.69, 0.5, high), gap=SHORT_GAP, gain=SHORT_GAIN))
    assert result["decision"] == decision


# --- augment: the gap's upper bound and the gain over real alone ----------------------------------

@pytest.mark.parametrize(("high", "decision"), [(0.01 - EPS, "augment"), (0.01, "augment"), (0.01 + EPS, "undecided")])
def test_augment_needs_the_gap_upper_bound_within_the_points(high, decision):
    result = decide(block(gap=estimate(0.0, -0.01, high), gain=estimate(0.1, 0.05, 0.15)))
    assert result["decision"] == decision
    if decision == "augment":
        assert result["real_needed"] == 100 and result["setting"] == "few_shot+real100"
        assert result["text"].startswith("augment with 100 real: few_shot+real100 comes within 1 Macro-F1 point(s)")
    else:
        assert any("gap to real" in question and "straddles 1 point(s)" in question for question in result["open"])


@pytest.mark.parametrize(("low", "decision"), [(-EPS, "undecided"), (0.0, "undecided"), (EPS, "augment")])
def test_augment_needs_the_mix_to_beat_its_real_alone(low, decision):
    result = decide(block(gap=estimate(0.0, -0.005, 0.005), gain=estimate(0.02, low, 0.04)))
    assert result["decision"] == decision
    if decision == "undecided":
        assert any("minus its 100 real alone" in question and "straddles 0" in question
                   for question in result["open"])


def test_augment_without_a_real_alone_baseline_is_undecided():
    """A run trained before the real@N-alone units: no way to show the synthetic part adds anything."""
    result = decide(block(gap=estimate(0.0, -0.005, 0.005)))
    assert result["decision"] == "undecided"
    assert any("no 100-real-alone baseline" in question for question in result["open"])


@pytest.mark.parametrize(("low", "decision"), [(0.01 + EPS, "do_not_use"), (0.01, "undecided")])
def test_a_mix_is_ruled_out_when_its_gap_lower_bound_exceeds_the_points(low, decision):
    result = decide(block(share=estimate(0.5, 0.4, 0.6), gap=estimate(0.03, low, 0.05), gain=estimate(0.1, 0.05, 0.15)))
    assert result["decision"] == decision


@pytest.mark.parametrize(("high", "decision"), [(0.0, "do_not_use"), (EPS, "undecided")])
def test_a_mix_is_ruled_out_when_it_is_shown_to_add_nothing(high, decision):
    result = decide(block(gap=estimate(0.0, -0.005, 0.005), gain=estimate(-0.02, -0.04, high)))
    assert result["decision"] == decision


def test_the_smallest_mix_shown_wins():
    task_block = block(gap=estimate(0.0, -0.005, 0.005), gain=estimate(0.1, 0.05, 0.15))
    task_block["gap_few_shot+real50"] = estimate(0.0, -0.005, 0.005)
    task_block["gain_few_shot+real50"] = estimate(0.05, 0.01, 0.09)
    result = decide(task_block, mixes=[MIX, ("few_shot+real50", 50)])
    assert result["decision"] == "augment" and result["real_needed"] == 50


# --- what the line says ---------------------------------------------------------------------------

def test_do_not_use_says_what_synthetic_data_is_worth():
    """sms_spam in the committed run: 10 synthetic per label recover 69% and are worth about 6 real."""
    result = decide(block(share=estimate(0.69, 0.55, 0.83), gap=SHORT_GAP, gain=SHORT_GAIN))
    assert result["decision"] == "do_not_use"
    assert result["text"].startswith("do not use in place of real data: few_shot recovers 69% [55, 83]")
    assert result["text"].endswith("few_shot data: 10 synthetic ≈ 6.2 real per label [2.5, 14]")
    assert result["worth"] == "10 synthetic ≈ 6.2 real per label [2.5, 14]"


def test_worth_text_of_censored_and_interpolated_exchange_rates():
    censored = {"value": 2.0, "low": 0.0, "high": 4.8, "censored": "<=", "synthetic_size": 10}
    assert verdict.worth_text(censored) == "10 synthetic ≤ 2 real per label (upper bound 4.8)"
    above = {"value": 400.0, "low": 120.0, "high": None, "censored": ">=", "synthetic_size": 10}
    assert verdict.worth_text(above) == "10 synthetic ≥ 400 real per label (lower bound 120)"
    wide = {"value": 150.0, "low": 60.0, "high": 380.0, "censored": "=", "synthetic_size": 10, "interpolated": True,
            "bracket": [100, 400]}
    assert verdict.worth_text(wide) == ("10 synthetic ≈ 150 real per label [60, 380], "
                                        "interpolated between real 100 and 400")
    assert verdict.worth_text(None) is None and verdict.worth_text({"value": None}) is None


def test_settle_scales_test_items_and_replicates_by_the_squared_ratio():
    """z * se = 1.96 * 0.05 = 0.098 against a distance of 0.049 to the threshold: 4x the evidence."""
    text = verdict.settle(estimate(0.949, 0.8, 1.1, se=0.05, n_items=500, n_replicates=3), 0.9)
    assert text.startswith("about 4.0x the evidence") and "~2,000 test items" in text and "~12 replicates" in text
    assert "no sample size" in verdict.settle(estimate(0.9, 0.8, 1.0), 0.9)


def test_settle_names_no_sample_size_beyond_a_hundredfold():
    """A mix 1.0005 points from its 1-point threshold with se 3.5 points (a fine-tuned trec run): the
    squared ratio is about 47,000, and millions of test items are no advice."""
    text = verdict.settle(estimate(0.010005, -0.059, 0.079, se=0.035, n_items=500, n_replicates=3), 0.01)
    assert "more than 100x the evidence" in text and "test items" not in text
    assert verdict.settle(estimate(0.03, -0.01, 0.07, se=0.02, n_items=500, n_replicates=3), 0.01).startswith(
        "about 3.8x")   # (1.96 * 0.02 / 0.02)^2


def test_macro_f1_and_accuracy_disagreements_are_noted():
    """trec's mix in the committed run: Macro-F1 -2.6 points vs real (not shown), accuracy -9.4 [-13.0, -5.7]."""
    task_block = block(gap=estimate(0.026, -0.067, 0.119), gain=estimate(0.1, 0.05, 0.15))
    task_block["gap_few_shot+real100_accuracy"] = estimate(0.094, 0.057, 0.130)
    task_block["gain_few_shot+real100_accuracy"] = estimate(0.09, 0.04, 0.14)
    result = decide(task_block)
    assert result["notes"] == ["few_shot+real100 vs real: Macro-F1 -2.6 [-11.9, +6.7], accuracy -9.4 [-13.0, -5.7] "
                               "points"]
