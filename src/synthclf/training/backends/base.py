"""What a classifier backend offers the train stage, evaluate and the benchmarks.

A backend fits a classifier on (texts, label ids) and the classifier predicts label names, saves
itself into a folder and is loaded back from it. The train stage's unit cache keys a unit's
predictions by the backend's name, its own settings (`settings`) and its code (`code_files`), so
editing one backend never reuses another's cached predictions, and never invalidates them either.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from synthclf.settings.train import TrainParams


class FitLog(Protocol):
    """Where a fit reports its progress (train.py's DVCLive StepLog)."""

    def __call__(self, loss: float, learning_rate: float) -> None: ...   # after each optimiser step

    def point(self, name: str, value: float) -> None: ...                 # one value of a fit without steps


class Classifier(Protocol):
    label_names: list[str]

    def predict(self, texts: list[str]) -> list[str]: ...

    def save(self, folder: Path) -> None: ...


class Backend:
    name: ClassVar[str]
    checkpoint_file: ClassVar[str]   # the file that marks a saved checkpoint of this backend
    deterministic: ClassVar[bool]    # the same data give the same model, whatever the training seed
    uses_device: ClassVar[bool] = False
    libraries: ClassVar[tuple[str, ...]] = ()   # what a fit imports (benchmarks/pipeline_time.py's fixed cost)

    @classmethod
    def settings(cls, train: TrainParams) -> dict:
        """The train settings the fitted model depends on (part of the unit cache key)."""
        raise NotImplementedError

    @classmethod
    def fit(cls, texts: list[str], labels: list[int], label_names: list[str], train: TrainParams, seed: int,
            desc: str = "train", log: FitLog | None = None) -> tuple[Classifier, dict]:
        """A fitted classifier and its training stats (train_seconds at least)."""
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path) -> Classifier:
        raise NotImplementedError

    @classmethod
    def code_files(cls) -> list[Path]:
        return [Path(__file__), Path(inspect.getsourcefile(cls))]

    @classmethod
    def code_digest(cls) -> str:
        digest = hashlib.sha256(cls.name.encode())
        for path in cls.code_files():
            digest.update(path.read_bytes())
        return digest.hexdigest()


@dataclass
class ConstantClassifier:
    """What a training draw holding a single label amounts to: that label for every text (no checkpoint)."""

    label_names: list[str]
    label: str

    def predict(self, texts: list[str]) -> list[str]:
        return [self.label] * len(texts)

    def save(self, folder: Path) -> None:
        raise NotImplementedError("a one-label draw keeps no checkpoint")
