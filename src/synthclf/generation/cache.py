"""Persistent response cache: nothing is paid for twice.

One SQLite file in WAL mode, shared safely by several processes (queued `dvc exp` runs, parallel
stages). A row is keyed by a hash of what determines the answer: model, prompt style, the prompt,
the sampling parameters (temperature, top_p, max_tokens, stop, seed, extra body fields) and the
sample index. Never by the API key or the base URL: the same request to another mirror of the same
model is the same request, and the key must never be written anywhere.

Each response is committed as soon as it arrives, before the run counts it, so a run killed at
any moment resumes without repeating a finished call. (synchronous=NORMAL: durable against a
killed process; an OS crash could lose the last few commits, which are then simply asked again.)

Where the file lives (`resolve_cache_path`):
1. $SYNTHCLF_CACHE_DIR, when set: <dir>/<file name of generate.cache_path>;
2. generate.cache_path when absolute;
3. otherwise relative to the project root. Queued `dvc exp run` executes in a temporary copy
   at <repo>/.dvc/tmp/exps/<tmpdir>/; there the root is <repo>, the original repository, so every
   queued experiment shares the one cache instead of starting an empty one in its copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthclf.errors import SynthclfError
from synthclf.paths import CACHE_DIR_ENV, original_repo_root

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedResponse:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "finish_reason": self.finish_reason,
                           "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens})

    @classmethod
    def from_json(cls, raw: str) -> CachedResponse:
        data = json.loads(raw)
        return cls(data["text"], data.get("finish_reason"), int(data["prompt_tokens"]), int(data["completion_tokens"]))


def cache_key(request: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the request: model, style, prompt, sampling, sample index.
    The request dict must not contain credentials or the endpoint (callers build it that way)."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def resolve_cache_path(cache_path: str, cwd: Path | None = None) -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser() / Path(cache_path).name
    path = Path(cache_path).expanduser()
    if path.is_absolute():
        return path
    return original_repo_root(cwd or Path.cwd()) / path


class ResponseCache:
    """get/put of responses by key; every put is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise SynthclfError(f"generate.cache_path: {self.path} is a folder, not a file; point generate.cache_path "
                                f"at a file such as {self.path / 'responses.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise SynthclfError(f"generate.cache_path: cannot open {self.path} ({exc}); point generate.cache_path "
                                f"(or ${CACHE_DIR_ENV}) at a writable file") from exc
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=60000")
            self.db.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if "locked" in str(exc):  # another process holds it longer than busy_timeout: not the user's file
                raise
            raise SynthclfError(f"generate.cache_path: {self.path} is not a usable response cache ({exc}); "
                                "point generate.cache_path at another file or move this one away") from exc

    def get(self, key: str) -> CachedResponse | None:
        row = self.db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return CachedResponse.from_json(row[0]) if row else None

    def put(self, key: str, request: dict[str, Any], response: CachedResponse, replace: bool = False) -> None:
        """Commit at once. If another process stored the same key first, its answer stands, unless
        `replace` (a whole answer asked for in place of one stopped at a copy)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.db.execute(
            f"{verb} INTO responses (key, model, request, response, created_at) VALUES (?, ?, ?, ?, ?)",
            (key, str(request.get("model", "")), json.dumps(request, sort_keys=True, ensure_ascii=False),
             response.to_json(), time.time()),
        )

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
