"""The one-line verdict per task a team lead can act on, from the task's comparison block.

- undecided: real data itself barely beats chance (compare.verdict.min_real_lift), so no gap or
  share means anything; the task needs better labels or more data before this question.
- replace: the best setting's recovered share of real data's lift over chance has its lower bound at
  or above compare.verdict.replace_share.
- augment with N real: the smallest tested mix (synthetic + N real) whose Macro-F1 comes within
  compare.verdict.within_points of real data.
- do not use: neither.
"""

from __future__ import annotations

from synthclf.config import VerdictParams


def decide(block: dict, settings: list[str], mixes: list[tuple[str, int]], thresholds: VerdictParams) -> dict:
    """{"decision", "setting", "real_needed", "text"} for one task block of metrics/summary.json."""
    lift = block.get("real_lift")
    if lift is None or lift < thresholds.min_real_lift:
        return {"decision": "undecided", "setting": None, "real_needed": None,
                "text": f"undecided: real data beats chance by only {_points(lift)} Macro-F1 points "
                        f"(< {100 * thresholds.min_real_lift:.0f}); no comparison is meaningful"}
    shares = {s: block[f"share_{s}"] for s in settings if block.get(f"share_{s}", {}).get("value") is not None}
    best = max(shares, key=lambda s: shares[s]["value"]) if shares else None
    if best and shares[best]["low"] is not None and shares[best]["low"] >= thresholds.replace_share:
        return {"decision": "replace", "setting": best, "real_needed": 0,
                "text": f"replace: {best} recovers {_share(shares[best])} of real data's lift over chance"}
    reaching = sorted((real, source) for real, source in _mixes_within(block, mixes, thresholds.within_points))
    if reaching:
        real, source = reaching[0]
        return {"decision": "augment", "setting": source, "real_needed": real,
                "text": f"augment with {real} real: {source} comes within {thresholds.within_points:g} "
                        f"Macro-F1 point(s) of all real data"}
    tested = ", ".join(f"{source}" for source, _ in mixes) or "none"
    best_text = f"best, {best}, recovers {_share(shares[best])}" if best else "no share could be estimated"
    return {"decision": "do_not_use", "setting": best, "real_needed": None,
            "text": f"do not use: {best_text}; no tested mix ({tested}) comes within "
                    f"{thresholds.within_points:g} point(s) of real data"}


def _mixes_within(block: dict, mixes: list[tuple[str, int]], within_points: float):
    for source, real in mixes:
        gap = block.get(f"gap_{source}", {}).get("value")
        if gap is not None and 100 * gap <= within_points:
            yield real, source


def _share(estimate: dict) -> str:
    return f"{100 * estimate['value']:.0f}% [{100 * estimate['low']:.0f}, {100 * estimate['high']:.0f}]"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"
