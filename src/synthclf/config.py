"""params.yaml, validated. Every command loads it through `load_params` before doing anything.

Each subsystem owns the model of its own section (generation/settings.py, validation/settings.py,
analysis/settings.py); this module composes them and turns any mistake into one line that names
the key, what was given and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from synthclf.analysis.settings import AnalysisParams
from synthclf.assets import BUNDLED_PREFIX, bundled_encoders, unknown_encoder_fix
from synthclf.errors import SynthclfError
from synthclf.paths import available_tasks
from synthclf.generation.settings import GenerationParams, LLMParams
from synthclf.resources import ResourcesParams
from synthclf.schema import Strict
from synthclf.training.settings import BACKENDS, DEFAULT_BACKEND, HeadParams
from synthclf.validation.settings import ValidationParams

DEFAULT_PARAMS = Path("params.yaml")


class SplitParams(Strict):
    train_size: int = Field(gt=0, description="real training examples kept after the split")
    test_size: int = Field(gt=0, description="real test examples every model is scored on")
    pool_size: int = Field(ge=0, description="few-shot pool drawn from the training split")
    balance: bool = Field(False, description="equal label counts in train and test (for skewed sources)")


def parse_mix(source: str) -> tuple[str, int] | None:
    """'few_shot+real100' -> ('few_shot', 100); None for a source that is not a mix."""
    setting, plus, real = source.partition("+real")
    return (setting, int(real)) if plus and setting in ("zero_shot", "few_shot") and real.isdigit() else None


def real_alone_point(real: int) -> str:
    """'real100': the curve point of a mix's N real examples trained alone, beside 'few_shot+real100'."""
    return f"real{real}"


class MixParams(Strict):
    """A training mix: every validated `setting` record plus `real` real training examples."""

    setting: Literal["zero_shot", "few_shot"]
    real: int = Field(gt=0, description="real training examples added to the synthetic data")

    @property
    def source(self) -> str:
        """The mix's name as a training source, e.g. few_shot+real100 (list it under `sources`)."""
        return f"{self.setting}+real{self.real}"


class VerdictParams(Strict):
    """Thresholds of the one-line verdict per task (report, metrics/summary.json)."""

    replace_share: float = Field(0.9, gt=0, le=1.5, description="replace: the recovered share's lower bound reaches this")
    within_points: float = Field(1.0, gt=0, le=50, description="augment: a mix within this many Macro-F1 points of real")
    min_real_lift: float = Field(0.05, ge=0, lt=1, description="no verdict, and no recovered share, when real data "
                                 "beats chance (the stronger of guessing by the training label shares and the best "
                                 "constant predictor) by less Macro-F1 than this")


class CompareParams(Strict):
    """How sources are compared: equal-size learning curves, intervals, the verdict."""

    sizes: list[int] = Field(default_factory=lambda: [5, 10], description="smaller sizes per label on the learning "
                             "curves; generate.per_class is always the largest point")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap_resamples: int = Field(1000, ge=100, le=100_000)
    real_sizes: list[int] = Field(default_factory=lambda: [20, 50, 100, 200, 400], description="real-data-only "
                                  "points of the real learning curve above generate.per_class (per label, each label "
                                  "capped at what it has), measured where an exchange rate can land")
    max_interpolation_fold: float = Field(3.0, gt=1, description="an exchange rate read between two measured real "
                                          "sizes more than this many times apart is flagged as interpolated")
    min_tasks: int = Field(3, ge=2, description="a mean over tasks gets an interval (and a finding a status) "
                           "only from this many tasks")
    gap_statistic: str = Field("unrecovered_zero_shot", pattern=r"^(gap|fair_gap|unrecovered)_[a-z_+0-9]+$",
                               description="the statistic the subjectivity finding tests, chosen before the run: "
                               "gap_<source>, fair_gap_<setting> or unrecovered_<setting>")
    verdict: VerdictParams = VerdictParams()

    @model_validator(mode="after")
    def _sizes_ascending(self) -> CompareParams:
        if any(size <= 0 for size in self.sizes) or sorted(set(self.sizes)) != self.sizes:
            raise ValueError(f"compare.sizes: got {self.sizes}; list distinct positive sizes per label, ascending")
        if any(size <= 0 for size in self.real_sizes) or sorted(set(self.real_sizes)) != self.real_sizes:
            raise ValueError(f"compare.real_sizes: got {self.real_sizes}; list distinct positive sizes per label, "
                             "ascending")
        return self


class TrainParams(Strict):
    backend: str = Field(DEFAULT_BACKEND, description="a name in training/settings.py's BACKENDS")
    head: HeadParams = HeadParams()
    encoder: str = Field("bundled:all-MiniLM-L6-v2", description="bundled:<name> or a hub id such as roberta-base")
    epochs: float = Field(3, gt=0)
    min_steps: int = Field(60, ge=0, description="small synthetic sets still get this many optimiser steps")
    min_epochs: float = Field(0, ge=0, description="mid-sized sets (a mix, ~100-300 examples) get at least this "
                              "many epochs, up to max_floor_steps steps")
    max_floor_steps: int = Field(100, ge=0, description="min_epochs never asks for more steps than this")
    batch_size: int = Field(32, gt=0)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(64, ge=8, le=512)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    eval_batch_size: int = Field(128, gt=0, description="texts per prediction batch (a runtime knob: "
                                 "no stage depends on it)")

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, name: str) -> str:
        if name not in BACKENDS:
            raise ValueError(f"allowed: {', '.join(BACKENDS)}")
        return name

    @field_validator("encoder")
    @classmethod
    def _known_bundled_encoder(cls, encoder: str) -> str:
        """An unknown `bundled:` name fails at params load, before any stage runs (not at train)."""
        if encoder.startswith(BUNDLED_PREFIX) and encoder.removeprefix(BUNDLED_PREFIX) not in bundled_encoders():
            raise PydanticCustomError("bundled_encoder", "{fix}", {"fix": unknown_encoder_fix()})
        return encoder


class Params(Strict):
    seed: int = 0
    tasks: list[str] = Field(min_length=1)
    split: dict[str, SplitParams]
    sources: list[str] = Field(default_factory=lambda: ["real", "zero_shot", "few_shot"], min_length=1)
    mixes: list[MixParams] = Field(default_factory=list)
    train: TrainParams = TrainParams()
    llm: LLMParams = LLMParams()
    generate: GenerationParams = GenerationParams()
    validate_: ValidationParams = Field(ValidationParams(), alias="validate")
    analyze: AnalysisParams = AnalysisParams()
    compare: CompareParams = CompareParams()
    resources: ResourcesParams = ResourcesParams()

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _every_task_has_a_card_and_a_split(self) -> Params:
        known = available_tasks()
        for task in self.tasks:
            if task not in known:
                raise ValueError(f"tasks: got {task!r}; allowed: {', '.join(known)} "
                                 "(or add a task card to src/synthclf/tasks/cards/)")
        missing = [task for task in self.tasks if task not in self.split]
        if missing:
            raise ValueError(f"split has no entry for task(s) {missing}; add split.{missing[0]}: "
                             "{train_size: ..., test_size: ..., pool_size: ...}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError("tasks lists a task twice; list each task once")
        for mix in self.mixes:
            if mix.setting not in self.generate.settings:
                raise ValueError(f"mixes: setting {mix.setting!r} is not in generate.settings "
                                 f"{self.generate.settings}; add it there or drop the mix")
        if self.compare.sizes and self.compare.sizes[-1] >= self.generate.per_class:
            raise ValueError(f"compare.sizes: {self.compare.sizes[-1]} is not below generate.per_class "
                             f"({self.generate.per_class}), which is always the curves' largest point; drop it")
        allowed = ["real", *self.generate.settings, *(mix.source for mix in self.mixes)]
        for source in self.sources:
            if source not in allowed:
                raise ValueError(f"sources: {source!r} is not one of {allowed}; add it to generate.settings "
                                 "or mixes first")
        return self

    def curve_sizes(self) -> list[int]:
        """Examples per label on the learning curves, ascending; the largest is generate.per_class."""
        return [*self.compare.sizes, self.generate.per_class]

    def mix(self, source: str) -> MixParams | None:
        return next((mix for mix in self.mixes if mix.source == source), None)


# pydantic's error types in plain words; `ctx` fills the braces. Anything else keeps pydantic's message.
PLAIN_WORDS = {
    "int_parsing": "expected a whole number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number", "float_parsing": "expected a number",
    "float_type": "expected a number", "bool_parsing": "expected true or false",
    "bool_type": "expected true or false", "string_type": "expected text",
    "list_type": "expected a list", "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "greater_than": "must be greater than {gt}", "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}", "less_than_equal": "must be at most {le}",
    "literal_error": "allowed: {expected}", "enum": "allowed: {expected}",
    "string_too_short": "must have at least {min_length} characters",
    "too_short": "needs at least {min_length} entries", "too_long": "allows at most {max_length} entries",
    "string_pattern_mismatch": "does not have the required form {pattern!r}",
    "union_tag_invalid": "allowed: {expected_tags}", "url_parsing": "expected a URL such as http://host:8000/v1",
}


def plain_words(error: dict) -> str:
    """What is wrong with a value, without pydantic's vocabulary."""
    template = PLAIN_WORDS.get(error["type"])
    if template is not None:
        try:
            return template.format(**error.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    return error["msg"].removeprefix("Value error, ")


def error_key(error: dict) -> str:
    """The dotted key of an error, without the union tags pydantic adds to its location."""
    parts = [str(part) for part in error["loc"]
             if not (isinstance(part, str) and part in ("package", "huggingface", "file") and error["loc"][0] == "source")]
    key = ".".join(parts).replace("validate_", "validate")
    return key if key.isprintable() else repr(key)[1:-1]   # a key with a line break stays on the one line


def yaml_error_place(exc: yaml.YAMLError) -> str:
    """'line L, column C: ' of a YAML error (PyYAML's own message spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def safe_yaml(text: str):
    """yaml.safe_load, every failure a yaml.YAMLError: PyYAML itself raises ValueError, TypeError or
    AttributeError on some explicit tags and dates (`!!timestamp 2024-13-45`), RecursionError on deep nesting."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise yaml.YAMLError(f"a value YAML cannot read ({detail}); check explicit tags (!!...), dates "
                             "and nesting") from exc


def yaml_error_problem(exc: yaml.YAMLError) -> str:
    return getattr(exc, "problem", None) or " ".join(str(exc).split())


def describe_error(error: dict) -> str:
    """One line: the dotted key, what was given, what is allowed."""
    key = error_key(error) or "(top level)"
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"params.yaml: unknown key '{key}'; remove it or fix its spelling"
    if error["type"] == "missing":
        return f"params.yaml: missing key '{key}'; add it"
    if error["type"] == "value_error" and not error["loc"]:
        return "params.yaml: " + plain_words(error)
    return f"params.yaml: {key}: got {given!r}; {plain_words(error)}"


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Parse and validate params.yaml, raising SynthclfError with one clear line on any problem."""
    path = Path(path)
    if not path.exists():
        raise SynthclfError(f"{path}: not found; run from the repository root or pass --params")
    try:
        raw = safe_yaml(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise SynthclfError(f"{path}: byte {exc.start} is not valid UTF-8; save the file as UTF-8") from None
    except IsADirectoryError:
        raise SynthclfError(f"{path}: a folder, not a file; pass the params file with --params") from None
    except yaml.YAMLError as exc:
        raise SynthclfError(f"{path}: {yaml_error_place(exc)}not valid YAML ({yaml_error_problem(exc)}); "
                            "fix the syntax") from exc
    if not isinstance(raw, dict):
        raise SynthclfError(f"{path}: expected a mapping of sections at the top level")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise SynthclfError(describe_error(exc.errors()[0]).replace("params.yaml", str(path), 1)) from exc
    return params
