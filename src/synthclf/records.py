"""Reading and writing the project's JSONL records and JSON metrics, always atomically.

Every writer goes through a temporary file in the target's directory and an `os.replace`, so a
crash or a Ctrl-C never leaves a half-written output for DVC to cache.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from synthclf.errors import SynthclfError


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary sibling of `target`; on success it replaces `target` in one rename,
    on any failure it is removed and `target` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield build
        build.chmod(0o755)
        retired = None
        if target.exists():
            retired = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, retired)
        os.replace(build, target)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines atomically; returns how many were written."""
    count = 0
    with atomic_write(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file; a missing file or a broken line is a clear user error."""
    path = Path(path)
    if not path.exists():
        raise SynthclfError(f"{path}: file not found; run the stage that produces it first (dvc repro)")
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SynthclfError(f"{path}:{number}: not valid JSON ({exc.msg}); regenerate the file") from exc
    return records


def write_json(path: str | Path, payload: Any) -> None:
    """Write one JSON document (metrics, summaries) atomically, keys sorted for stable diffs."""
    with atomic_write(path) as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise SynthclfError(f"{path}: file not found; run the stage that produces it first (dvc repro)")
    return json.loads(path.read_text(encoding="utf-8"))
