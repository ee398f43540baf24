"""params.yaml, validated. Every command loads it through `load_params` before doing anything.

Each section's model is a module of synthclf/settings/ (resources' is in synthclf/resources.py);
this module composes them into `Params`, checks what spans sections (every task has a card and a
split, a mix's setting is generated, a source is known), and turns any mistake into one line that
names the key, what was given and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator

from synthclf.errors import SynthclfError
from synthclf.paths import REAL, available_tasks
from synthclf.resources import ResourcesParams
from synthclf.schema import Strict
from synthclf.settings.analyze import AnalysisParams
from synthclf.settings.compare import CompareParams
from synthclf.settings.generate import GenerationParams
from synthclf.settings.llm import LLMParams
from synthclf.settings.mix import MixParams, parse_mix  # parse_mix: tests/test_pipeline.py reads it here too
from synthclf.settings.split import SplitParams
from synthclf.settings.train import TrainParams
from synthclf.settings.validate import ValidationParams

DEFAULT_PARAMS = Path("params.yaml")


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

    def headline_point(self, source: str) -> str:
        """The one curve point a source is reported by (its score, its gap, the report's tables): all
        real data, a generation setting at its largest size (generate.per_class), a mix as it is."""
        if source == REAL or parse_mix(source):
            return source
        return f"{source}@{self.generate.per_class}"

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
    in_source = bool(error["loc"]) and error["loc"][0] == "source"   # a model-level error has no location
    parts = [str(part) for part in error["loc"]
             if not (in_source and isinstance(part, str) and part in ("package", "huggingface", "file"))]
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
