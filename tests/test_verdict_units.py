"""The training units the verdicts rest on (training/units.py): real data fitted as often as there are
replicates when the backend is random, the real-only learning curve above generate.per_class (capped
per label), and every mix's N real examples trained alone on the same draw as the mix's real part."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from synthclf import paths
from synthclf.training import mix
from synthclf.training.units import point_of, replicate_of, units_for

from test_analysis_fixtures import make_params

TASK = "sms_spam"
REAL_COUNTS = {"ham": 150, "spam": 60}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def validated(tmp_path, monkeypatch):
    """Validated real data (150 ham, 60 spam) and few-shot data (2 replicates x 20 per label)."""
    monkeypatch.chdir(tmp_path)
    real = [{"id": f"{label}-{i}", "task": TASK, "text": f"{label} text {i}", "label": label, "source": "real"}
            for label, count in REAL_COUNTS.items() for i in range(count)]
    write_jsonl(paths.validated_file(TASK, "real"), real)
    synthetic = [{"id": f"s{r}-{label}-{i}", "task": TASK, "text": f"synthetic {label} {r} {i}", "label": label,
                  "source": "few_shot", "replicate": r}
                 for r in range(2) for label in REAL_COUNTS for i in range(20)]
    write_jsonl(paths.validated_file(TASK, "few_shot"), synthetic)
    params = make_params()
    params.compare.real_sizes = [20, 50, 100, 150, 400]
    return params


def by_point(unit_list) -> dict[str, list]:
    points: dict[str, list] = {}
    for unit in unit_list:
        points.setdefault(point_of(unit.name), []).append(unit)
    return points


@pytest.mark.parametrize(("deterministic", "fits"), [(True, 2), (False, 3), (None, 2)])
def test_real_data_is_fitted_once_per_replicate_when_the_backend_is_random(validated, deterministic, fits):
    validated.generate.replicates = 3
    points = by_point(units_for(validated, TASK, "real", deterministic=deterministic))
    assert [unit.name for unit in points["real"]] == [f"real/r{i}" for i in range(fits)]
    assert len({unit.seed for unit in points["real"]}) == fits          # every fit its own training seed


def test_the_real_curve_above_per_class_is_measured_capped_per_label(validated):
    """per_class 20; compare.real_sizes 20, 50, 100, 150, 400: 50 and 100 lie between per_class and the
    largest label's count (150, where all real data is the point). Spam (60) is capped at 60."""
    points = by_point(units_for(validated, TASK, "real", deterministic=True))
    assert sorted(points) == ["real", "real@100", "real@50"]
    for point, size in (("real@50", 50), ("real@100", 100)):
        assert [replicate_of(unit.name) for unit in points[point]] == [0, 1]     # one draw per replicate
        for unit in points[point]:
            assert Counter(r["label"] for r in unit.records) == {"ham": size, "spam": min(size, 60)}
    first, second = points["real@50"]
    assert {r["id"] for r in first.records} != {r["id"] for r in second.records}     # each replicate its own draw
    assert first.seed != second.seed and first.keep_as is None


def test_every_mix_trains_its_real_part_alone(validated):
    """few_shot+real100: per replicate the mix and the same 100 real examples alone, same seed."""
    source = "few_shot+real100"
    mix.run(validated, TASK, source)
    points = by_point(units_for(validated, TASK, source))
    assert sorted(points) == ["few_shot+real100", "real100"]
    for mixed, alone in zip(points[source], points["real100"], strict=True):
        assert replicate_of(mixed.name) == replicate_of(alone.name) and mixed.seed == alone.seed
        real_part = [r for r in mixed.records if r["source"] == "real"]
        assert len(alone.records) == 100 and [r["id"] for r in alone.records] == [r["id"] for r in real_part]
        assert all(r["source"] == "real" for r in alone.records)
        assert len(mixed.records) == 100 + 40
