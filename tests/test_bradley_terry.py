"""Bradley-Terry: recovering known strengths, finite scores for unbeaten tasks, levels, CSV errors."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import spearmanr

from synthclf.analysis.bradley_terry import (
    Comparison,
    estimate,
    estimate_from_file,
    fit_strengths,
    quantile_levels,
    read_judgments,
)
from synthclf.errors import SynthclfError


def simulate(strengths: dict[str, float], n: int, seed: int) -> list[Comparison]:
    """Comparisons drawn from a true Bradley-Terry model over log-strengths, judges round-robin."""
    rng = random.Random(seed)
    tasks = sorted(strengths)
    comparisons = []
    for index in range(n):
        a, b = rng.sample(tasks, 2)
        p_a = 1 / (1 + math.exp(strengths[b] - strengths[a]))
        comparisons.append(Comparison(a, b, a if rng.random() < p_a else b, f"judge{index % 12}"))
    return comparisons


TRUE = {f"task{i}": 0.45 * i for i in range(10)}     # task9 most objective


@pytest.mark.parametrize(("n", "seed"), [(300, 0), (540, 1), (540, 2)])
def test_recovers_known_strengths(n, seed):
    result = estimate(simulate(TRUE, n, seed), levels=5)
    tasks = sorted(TRUE)
    rho = spearmanr([TRUE[t] for t in tasks], [result.scores[t] for t in tasks]).statistic
    assert rho >= 0.9
    assert result.converged and result.n_comparisons == n and result.n_judges == 12
    assert abs(sum(result.scores.values())) < 1e-9          # centred
    # levels run the other way round: the strongest (most objective) tasks sit at level 1
    assert result.levels["task9"] <= 2 and result.levels["task0"] >= 4


def test_unbeaten_task_stays_finite_and_first():
    comparisons = [Comparison("news", other, "news", "j") for other in ("humor", "sarcasm", "spam")] * 5
    comparisons += [Comparison("spam", "humor", "spam", "j"), Comparison("humor", "sarcasm", "sarcasm", "j")]
    scores, _, converged = fit_strengths(comparisons)
    assert converged and all(math.isfinite(value) for value in scores.values())
    assert max(scores, key=scores.get) == "news"


def test_balanced_judgments_give_equal_scores():
    scores, _, _ = fit_strengths([Comparison("a", "b", "a", "j1"), Comparison("a", "b", "b", "j2")])
    assert scores["a"] == pytest.approx(0) and scores["b"] == pytest.approx(0)


def test_stronger_prior_shrinks_scores():
    comparisons = simulate(TRUE, 200, 3)
    weak, _, _ = fit_strengths(comparisons, prior=0.5)
    strong, _, _ = fit_strengths(comparisons, prior=20)
    assert max(map(abs, strong.values())) < max(map(abs, weak.values()))


def test_quantile_levels_equal_count_bins_and_ties():
    ten = {f"t{i}": float(i) for i in range(10)}
    levels = quantile_levels(ten, 5)
    assert [levels[f"t{i}"] for i in range(9, -1, -1)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    six = quantile_levels({f"t{i}": float(i) for i in range(6)}, 5)
    assert sorted(six.values()) == [1, 1, 2, 3, 4, 5]
    tied = quantile_levels({"a": 1.0, "b": 1.0, "c": 0.0, "d": -1.0}, 4)
    assert tied["a"] == tied["b"] == 1 and tied["c"] == 3 and tied["d"] == 4


def write_csv(tmp_path, text: str):
    path = tmp_path / "judgments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_csv_with_extra_columns_and_whitespace(tmp_path):
    path = write_csv(tmp_path, "task_a, task_b ,winner,judge,answer\n"
                               "trec, sms_spam ,trec,j1,A\n\n"
                               "sms_spam,seinfeld_humor,sms_spam,j2,\"B, surely\"\n")
    comparisons = read_judgments(path)
    assert comparisons == [Comparison("trec", "sms_spam", "trec", "j1"),
                           Comparison("sms_spam", "seinfeld_humor", "sms_spam", "j2")]
    result = estimate_from_file(path, levels=3)
    assert result.levels == {"trec": 1, "sms_spam": 2, "seinfeld_humor": 3}


@pytest.mark.parametrize(("text", "message"), [
    ("task_a,task_b,judge\ntrec,sms_spam,j\n", "missing column(s) winner"),
    ("task_a,task_b,winner,judge\ntrec,sms_spam,humor,j\n", ":2: winner 'humor' is neither"),
    ("task_a,task_b,winner,judge\ntrec,sms_spam,trec,j\ntrec,trec,trec,j\n", ":3: task_a and task_b are both"),
    ("task_a,task_b,winner,judge\ntrec,sms_spam,,j\n", ":2: empty winner"),
    ("task_a,task_b,winner,judge\n", "no judgments"),
    ("", "missing column(s) task_a, task_b, winner, judge"),
])
def test_bad_csv_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(SynthclfError) as info:
        read_judgments(write_csv(tmp_path, text))
    assert message in str(info.value)


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(SynthclfError, match="synthclf judge"):
        read_judgments(tmp_path / "absent.csv")
