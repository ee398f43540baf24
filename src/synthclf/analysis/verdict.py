"""The one-line verdict per task a team lead can act on, from the task's comparison block.

Every verdict stands on an interval, never on a point estimate alone:

- undecided (chance): real data itself beats chance (the stronger of guessing by the training label
  shares and the best constant predictor) by less than compare.verdict.min_real_lift Macro-F1, so no
  gap or share means anything; the task needs better labels or more data before this question.
- replace: the best setting's recovered share of real data's lift over chance has its lower bound at
  or above compare.verdict.replace_share.
- augment with N real: the smallest tested mix (synthetic + N real) that is shown both to come within
  compare.verdict.within_points of all real data (the upper bound of real - mix at or below it) and to
  beat its own N real examples trained alone (the lower bound of mix - real N alone above 0).
- do not use: the evidence rules both out: the share's upper bound is below replace_share, and every
  tested mix is shown to fall short (its gap's lower bound above within_points) or to add nothing to
  its N real alone (the upper bound of mix - real N alone at or below 0).
- undecided (too wide): anything else. The verdict names each interval that straddles its threshold
  and about how much more evidence (test items and replicates) would settle it.

Whatever the decision, the line says what the synthetic data is worth in real examples per label
(the exchange rate), so "not a replacement" never reads as "worthless".
"""

from __future__ import annotations

import math

from synthclf import scoring
from synthclf.settings.compare import VerdictParams

SIGNS = {"=": "≈", "<=": "≤", ">=": "≥"}


def decide(block: dict, settings: list[str], mixes: list[tuple[str, int]], thresholds: VerdictParams) -> dict:
    """{"decision", "setting", "real_needed", "text", "open", "worth", "notes"} for one task block of
    metrics/summary.json. `open` lists the intervals too wide to decide, with what would settle them."""
    lift = block.get("real_lift")
    if lift is None or lift < thresholds.min_real_lift:
        return _verdict("undecided", None, None,
                        f"undecided: real data beats chance by only {_points(lift)} Macro-F1 points "
                        f"(< {100 * thresholds.min_real_lift:g}); no comparison is meaningful")
    shares = {s: block[f"share_{s}"] for s in settings if (block.get(f"share_{s}") or {}).get("value") is not None}
    best = max(shares, key=lambda s: (shares[s]["value"], s)) if shares else None
    worth = worth_text(block.get(f"exchange_{best}")) if best else None
    worth_clause = f"; {best} data: {worth}" if worth else ""
    notes = metric_disagreements(block, mixes)
    open_questions: list[str] = []

    share_state = None
    if best:
        share = shares[best]
        share_state = _state(share, thresholds.replace_share, above=True)
        if share_state == "shown":
            return _verdict("replace", best, 0, f"replace: {best} recovers {_share(share)} of real data's lift over "
                            f"chance (lower bound ≥ {100 * thresholds.replace_share:g}%){worth_clause}", worth=worth,
                            notes=notes)
        if share_state == "open":
            open_questions.append(f"{best}'s share {_share(share)} straddles {100 * thresholds.replace_share:g}% "
                                  f"({settle(share, thresholds.replace_share)})")

    mix_states = []
    for source, real in sorted(mixes, key=lambda mix: mix[1]):
        within, gain = block.get(f"gap_{source}"), block.get(f"gain_{source}")
        if not _present(within):
            continue
        within_state = _state(within, thresholds.within_points / 100, above=False)
        gain_state = _state(gain, 0.0, above=True, strict=True) if _present(gain) else "no baseline"
        if within_state == "shown" and gain_state == "shown":
            return _verdict("augment", source, real,
                            f"augment with {real} real: {source} comes within {thresholds.within_points:g} Macro-F1 "
                            f"point(s) of all real data (gap {_interval_points(within)}) and beats its {real} real "
                            f"alone by {_interval_points(gain)} points{worth_clause}", worth=worth, notes=notes)
        ruled_out = within_state == "ruled out" or gain_state == "ruled out"
        mix_states.append((source, real, ruled_out))
        if ruled_out:
            continue
        if within_state == "open":
            settles = settle(within, thresholds.within_points / 100)
            open_questions.append(f"{source}'s gap to real {_interval_points(within)} straddles "
                                  f"{thresholds.within_points:g} point(s) ({settles})")
        if gain_state == "open":
            open_questions.append(f"{source} minus its {real} real alone {_interval_points(gain)} straddles 0 "
                                  f"({settle(gain, 0.0)})")
        elif gain_state == "no baseline":
            open_questions.append(f"{source} has no {real}-real-alone baseline (retrain to measure it)")

    if share_state in ("ruled out", None) and all(ruled_out for _, _, ruled_out in mix_states):
        share_text = (f"{best} recovers {_share(shares[best])} of real data's lift over chance (upper bound < "
                      f"{100 * thresholds.replace_share:g}%)" if best else "no share could be estimated")
        tested = ", ".join(source for source, _ in mixes) or "none"
        return _verdict("do_not_use", best, None,
                        f"do not use in place of real data: {share_text}; no tested mix ({tested}) is shown within "
                        f"{thresholds.within_points:g} point(s) of real data and above its real examples alone"
                        f"{worth_clause}", worth=worth, notes=notes)
    return _verdict("undecided", best, None,
                    "undecided: " + "; ".join(open_questions) + worth_clause, open_questions=open_questions,
                    worth=worth, notes=notes)


def _verdict(decision: str, setting: str | None, real_needed: int | None, text: str, *,
             open_questions: list[str] | None = None, worth: str | None = None, notes: list[str] | None = None) -> dict:
    return {"decision": decision, "setting": setting, "real_needed": real_needed, "text": text,
            "open": open_questions or [], "worth": worth, "notes": notes or []}


def _present(estimate: dict | None) -> bool:
    return isinstance(estimate, dict) and estimate.get("value") is not None


def _state(estimate: dict, threshold: float, *, above: bool, strict: bool = False) -> str:
    """'shown' when the interval lies on the wanted side of the threshold (above it, or at or below it
    for a gap), 'ruled out' when it lies on the other side, 'open' when it straddles it."""
    low, high = estimate.get("low"), estimate.get("high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "open"
    if above:
        if low > threshold or (low >= threshold and not strict):
            return "shown"
        return "ruled out" if high < threshold or (strict and high <= threshold) else "open"
    if high <= threshold:
        return "shown"
    return "ruled out" if low > threshold else "open"


MAX_SETTLE_FACTOR = 100.0   # beyond this much more evidence, a sample size is not worth naming


def settle(estimate: dict, threshold: float, confidence: float = 0.95) -> str:
    """About how much more evidence would move the interval off the threshold, if the estimate stayed
    where it is: z * se must shrink to the distance from the estimate to the threshold; a standard
    error falls as 1/sqrt of the test items and of the replicates, so both must grow by
    (z * se / distance)^2 (z, not the t of few replicates: more replicates also shrink t)."""
    from scipy.stats import norm

    value, low, high, se = (estimate.get(key) for key in ("value", "low", "high", "se"))
    distance = abs(value - threshold)
    if distance < 1e-12:
        return "the estimate sits on the threshold: no sample size settles it"
    if se is not None and math.isfinite(se) and se > 0:
        half_width = float(norm.ppf(0.5 + confidence / 2)) * se
    else:
        half_width = (value - low) if value > threshold else (high - value)
    factor = max(1.0, (half_width / distance) ** 2)
    if factor > MAX_SETTLE_FACTOR:   # millions of test items is no advice: the estimate is on the threshold
        return (f"the estimate sits within {distance * 100:.2g} points of the threshold: more than "
                f"{MAX_SETTLE_FACTOR:g}x the evidence would be needed to settle it")
    items, replicates = estimate.get("n_items"), estimate.get("n_replicates")
    need = []
    if items:
        need.append(f"~{math.ceil(items * factor):,} test items")
    if replicates:
        need.append(f"~{math.ceil(replicates * factor)} replicates")
    return f"about {factor:.1f}x the evidence would settle it: " + " and ".join(need) if need else \
        f"about {factor:.1f}x the evidence would settle it"


def worth_text(exchange: dict | None) -> str | None:
    """'10 synthetic ≈ 6 real per label [2.5, 14]'; a censored value with its one-sided bound."""
    if not isinstance(exchange, dict) or exchange.get("value") is None:
        return None
    censored = exchange.get("censored", "=")
    text = (f"{exchange['synthetic_size']} synthetic {SIGNS.get(censored, '≈')} "
            f"{_count(exchange['value'])} real per label")
    if censored == "<=" and exchange.get("high") is not None:
        text += f" (upper bound {_count(exchange['high'])})"
    elif censored == ">=" and exchange.get("low") is not None:
        text += f" (lower bound {_count(exchange['low'])})"
    elif exchange.get("low") is not None and exchange.get("high") is not None:
        text += f" [{_count(exchange['low'])}, {_count(exchange['high'])}]"
    if exchange.get("interpolated"):
        low, high = exchange.get("bracket", [None, None])
        text += f", interpolated between real {_count(low)} and {_count(high)}"
    return text


def metric_disagreements(block: dict, mixes: list[tuple[str, int]]) -> list[str]:
    """Mixes whose gap to real data reads differently in the headline metric (Macro-F1) and in another
    registered metric (accuracy): one interval excludes 0 and the other does not, or they lie on
    opposite sides of it."""
    notes = []
    headline = scoring.headline()
    for source, _ in mixes:
        for key, name in ((f"gap_{source}", "real"), (f"gain_{source}", "its real alone")):
            for other in scoring.others():
                main, second = block.get(key), block.get(scoring.suffixed(key, other.name))
                if not (_present(main) and _present(second)) or _side(main) == _side(second):
                    continue
                sign = -1 if key.startswith("gap_") else 1      # a gap is real - mix: show mix - real
                notes.append(f"{source} vs {name}: {headline.label} {_interval_points(main, sign)}, {other.label} "
                             f"{_interval_points(second, sign)} points")
    return notes


def _side(estimate: dict) -> int:
    low, high = estimate.get("low"), estimate.get("high")
    if low is not None and low > 0:
        return 1
    if high is not None and high < 0:
        return -1
    return 0


def _interval_points(estimate: dict, sign: int = 1) -> str:
    value, low, high = (estimate.get(key) for key in ("value", "low", "high"))
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{100 * sign * value:+.1f}"
    low, high = sorted((sign * low, sign * high))
    return f"{100 * sign * value:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def _count(value: float | None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return text.removesuffix(".0")


def _share(estimate: dict) -> str:
    if estimate.get("low") is None or estimate.get("high") is None:
        return f"{100 * estimate['value']:.0f}%"
    return f"{100 * estimate['value']:.0f}% [{100 * estimate['low']:.0f}, {100 * estimate['high']:.0f}]"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"
