"""Classifier backends behind one interface (base.Backend: fit, predict, save, load).

The registry is settings/train.py's BACKENDS (name -> module:class), read by params validation
too; this package turns a name or a checkpoint folder into the backend that owns it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from synthclf.errors import SynthclfError
from synthclf.settings.train import BACKENDS
from synthclf.training.backends.base import Backend, Classifier

__all__ = ["Backend", "Classifier", "backend", "load_checkpoint"]


def backend(name: str) -> type[Backend]:
    """The backend class registered under `name` (imported on first use: each pulls its own libraries)."""
    if name not in BACKENDS:
        raise SynthclfError(f"train.backend: got {name!r}; allowed: {', '.join(BACKENDS)}")
    module, _, attribute = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_checkpoint(folder: Path) -> Classifier:
    """A saved checkpoint of any registered backend, recognised by the file its backend writes."""
    for name in BACKENDS:
        owner = backend(name)
        if (folder / owner.checkpoint_file).exists():
            return owner.load(folder)
    raise SynthclfError(f"{folder}: not a checkpoint of any backend ({', '.join(BACKENDS)}); rerun train")
