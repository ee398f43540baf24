"""Share a run with the team through the DVC remote, or take a teammate's run: `make share`,
`make fetch-results`.

    python scripts/share.py push   # datasets, checkpoints, metrics' data, the run-cache, the LLM responses
    python scripts/share.py pull   # the same back, then the responses merged into the local cache

The LLM response cache is shared as a DVC-tracked snapshot, `data/llm_responses/responses.sqlite`
(commit its .dvc file with dvc.lock). `push` first folds the committed snapshot into the local
cache, then writes the union as the new snapshot; `pull` folds the snapshot into the local cache.
Rows are keyed by the request, and INSERT OR IGNORE keeps the first answer, so merging in either
direction never changes an answer somebody already has: a teammate who reruns generation with the
same params gets every text from the cache and sends no request.

Failures print one line that names the problem and the fix (the full dvc output goes to
.dvc/tmp/share.log) and exit with 2 for configuration errors, 1 for an unreachable remote.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

SNAPSHOT = Path("data/llm_responses/responses.sqlite")
LOG = Path(".dvc/tmp/share.log")
DEFAULT_CACHE = ".synthclf_cache/responses.sqlite"


class ShareError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- dvc ----------------------------------------------------------------------------------------
def run_dvc(*args: str) -> subprocess.CompletedProcess:
    """dvc of this Python environment; its whole output goes to the log."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True,
                            env=dict(os.environ, DVC_NO_ANALYTICS="1"))
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f"$ dvc {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    return result


def remote() -> tuple[str, str]:
    """The default remote's name and URL."""
    name = run_dvc("remote", "default").stdout.strip()
    url = run_dvc("config", f"remote.{name}.url").stdout.strip() if name else ""
    if not name or not url:
        raise ShareError("no default DVC remote; add one: dvc remote add -d storage s3://<bucket>/<path>")
    return name, url


def dvc(remote_: tuple[str, str], *args: str) -> str:
    """Run dvc; on failure raise a one-line ShareError about `remote_`."""
    result = run_dvc(*args)
    if result.returncode != 0:
        raise explain(args[0], result.stdout + result.stderr, *remote_)
    return result.stdout


def explain(command: str, output: str, name: str, url: str) -> ShareError:
    """Turn dvc's output into the one line a person needs."""
    bucket = url.split("://", 1)[-1].split("/", 1)[0]
    where = f"remote '{name}' ({url})"
    if re.search(r"NoSuchBucket|bucket does not exist", output):
        return ShareError(f"bucket '{bucket}' of {where} does not exist: create it (aws s3 mb s3://{bucket}) "
                          f"or point the remote at yours: dvc remote modify {name} url s3://<bucket>/<path>")
    if re.search(r"Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|\b403\b|Unable to locate "
                 r"credentials|NoCredentialsError|ExpiredToken", output):
        return ShareError(f"{where} refused the credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                          f"or store them outside git with dvc remote modify --local {name} access_key_id ... "
                          "(and secret_access_key)")
    if re.search(r"Could not connect|Connection (refused|reset|was closed)|EndpointConnectionError|"
                 r"ConnectionClosedError|Server disconnected|ClientOSError|files? failed to upload", output):
        return ShareError(f"dvc {command} with {where} stopped: the remote could not be reached or dropped the "
                          f"connection; what reached it is complete (objects are written whole): run the same "
                          f"command again to finish", code=1)
    last = [line for line in output.splitlines() if "ERROR" in line] or output.strip().splitlines()[-1:] or ["?"]
    return ShareError(f"dvc {command} failed: {last[-1].strip()} (full output: {LOG})", code=1)


# -- the response cache ---------------------------------------------------------------------------
def local_cache() -> Path:
    """generate.cache_path, where generation reads and writes ($SYNTHCLF_CACHE_DIR overrides it)."""
    from synthclf.generation.cache import resolve_cache_path

    params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8")) if Path("params.yaml").exists() else {}
    return resolve_cache_path(((params or {}).get("generate") or {}).get("cache_path", DEFAULT_CACHE))


def merge_into(target: Path, source: Path) -> int:
    """Copy rows of `source` missing from `target` (creating it); the number of rows added."""
    from synthclf.generation.cache import ResponseCache

    with ResponseCache(target) as cache:  # creates the table, WAL, as generation does
        before = len(cache)
        cache.db.execute("ATTACH DATABASE ? AS incoming", (str(source),))
        cache.db.execute("INSERT OR IGNORE INTO main.responses SELECT * FROM incoming.responses")
        cache.db.execute("DETACH DATABASE incoming")
        return len(cache) - before


def write_snapshot(cache: Path) -> None:
    """A consistent single-file copy of the cache (WAL folded in), renamed into place."""
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".responses.", suffix=".tmp", dir=SNAPSHOT.parent)
    os.close(fd)
    os.unlink(tmp)  # VACUUM INTO needs a path that does not exist yet
    try:
        with sqlite3.connect(cache) as db:
            db.execute("VACUUM INTO ?", (tmp,))
        os.replace(tmp, SNAPSHOT)
    finally:
        Path(tmp).unlink(missing_ok=True)


# -- the run-cache's outputs ----------------------------------------------------------------------
def run_cache_outputs(uncached_only: bool) -> set:
    """The outputs every local run-cache entry names, as DVC hash infos.

    `dvc push --run-cache` sends the entries but not the objects of `cache: false` outputs (the
    metrics of nearly every stage here), and without them a teammate's `dvc repro` cannot restore
    the stage from the entry and runs it again. This script moves those objects itself.
    """
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    with Repo(".") as repo:
        uncached = {out.def_path for stage in repo.index.stages for out in stage.outs if not out.use_cache}
    objects = set()
    for entry in Path(".dvc/cache/runs").glob("*/*/*"):
        for out in (yaml.safe_load(entry.read_text(encoding="utf-8")) or {}).get("outs", []):
            if out.get("md5") and (not uncached_only or out["path"] in uncached):
                objects.add(HashInfo("md5" if out.get("hash") == "md5" else "md5-dos2unix", out["md5"]))
    return objects


def move_run_cache_outputs(direction: str, where: tuple[str, str]) -> int:
    """push: every output of every entry (the remote skips what it has); pull: the uncached ones
    (small metrics files; `dvc repro --pull` fetches the large cached outputs a restore needs)."""
    from dvc.repo import Repo

    objects = run_cache_outputs(uncached_only=direction == "pull")
    if not objects:
        return 0
    try:
        with Repo(".") as repo:
            move = repo.cloud.push if direction == "push" else repo.cloud.pull
            result = move(objects, remote=where[0])
    except Exception as error:  # noqa: BLE001 - dvc's own errors, network errors: one line either way
        raise explain(direction, f"{type(error).__name__}: {error}", *where) from None
    if direction == "push" and result.failed:
        raise explain("push", f"{len(result.failed)} files failed to upload", *where)
    return len(result.transferred)


# -- commands ------------------------------------------------------------------------------------
def push() -> str:
    where = remote()
    name, url = where
    cache = local_cache()
    note = "no LLM response cache here"
    if cache.exists():
        if SNAPSHOT.exists():
            merge_into(cache, SNAPSHOT)  # keep what teammates shared before
        write_snapshot(cache)
        dvc(where, "add", "-q", str(SNAPSHOT))
        note = f"responses snapshot {SNAPSHOT} updated"
    dvc(where, "push", "--run-cache")
    move_run_cache_outputs("push", where)
    return (f"shared with remote '{name}' ({url}): outputs, run-cache; {note}. Now commit dvc.lock"
            f"{f' and {SNAPSHOT}.dvc' if cache.exists() else ''} and git push")


def pull() -> str:
    where = remote()
    name, url = where
    dvc(where, "pull", "--run-cache")
    move_run_cache_outputs("pull", where)
    added = merge_into(local_cache(), SNAPSHOT) if SNAPSHOT.exists() else 0
    return f"fetched from remote '{name}' ({url}): outputs, run-cache; {added} LLM responses added to the local cache"


def main(argv: list[str]) -> int:
    commands = {"push": push, "pull": pull}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python scripts/share.py push|pull", file=sys.stderr)
        return 2
    try:
        print(commands[argv[0]]())
    except ShareError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
