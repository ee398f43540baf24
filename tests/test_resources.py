"""resources: the threads rule (affinity / queue workers), the device rule, and their use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthclf import resources
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.resources import ResourcesParams, resolve_device, resolve_threads
from synthclf.settings.train import TrainParams

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("threads", "cores", "workers", "expected"), [
    (0, 8, 1, 8), (0, 8, 2, 4), (0, 8, 3, 2), (0, 2, 4, 1), (0, 1, 1, 1), (3, 8, 2, 3), (5, 2, 1, 5),
])
def test_threads_rule(threads, cores, workers, expected):
    assert resolve_threads(threads, cores=cores, workers=workers) == expected


def test_threads_read_affinity_and_workers_env(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv(resources.WORKERS_ENV, raising=False)
    assert resolve_threads(0) == cores
    monkeypatch.setenv(resources.WORKERS_ENV, str(cores * 2))
    assert resolve_threads(0) == 1
    monkeypatch.setenv(resources.WORKERS_ENV, "two")
    with pytest.raises(SynthclfError, match=r"SYNTHCLF_WORKERS: got 'two'.*dvc queue start -j N"):
        resolve_threads(0)


@pytest.mark.parametrize(("device", "cuda", "mps", "expected"), [
    ("auto", True, True, "cuda"), ("auto", False, True, "mps"), ("auto", False, False, "cpu"),
    ("cpu", True, True, "cpu"), ("cuda", True, False, "cuda"), ("mps", False, True, "mps"),
])
def test_device_rule(device, cuda, mps, expected):
    assert resolve_device(device, cuda=cuda, mps=mps) == expected


def test_auto_reads_what_torch_sees(monkeypatch):
    """auto asks torch: cuda where it sees a GPU, mps where it sees Apple's, else cpu (this CPU
    machine: cpu, never a device it does not have)."""
    import torch

    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    assert resolve_device("auto") == expected
    if sys.platform == "linux":
        assert not mps and resolve_device("auto") in ("cuda", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"


def test_missing_device_is_one_clear_line():
    with pytest.raises(SynthclfError) as caught:
        resolve_device("cuda", cuda=False, mps=False)
    line = str(caught.value)
    assert "\n" not in line and "no CUDA GPU" in line and "resources.device: auto" in line
    with pytest.raises(SynthclfError, match="no Apple MPS device"):
        resolve_device("mps", cuda=False, mps=False)


def test_apply_threads_sets_torch_blas_and_env(monkeypatch):
    import torch
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    monkeypatch.delenv(resources.WORKERS_ENV, raising=False)
    try:
        resources.activate(ResourcesParams(threads=1))
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["RAYON_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        resources.activate(ResourcesParams())
        torch.set_num_threads(before)


def test_server_threads_follow_resources():
    from synthclf.generation.server import server_threads
    from synthclf.settings.llm import LLMParams

    try:
        resources.activate(ResourcesParams(threads=3))
        assert server_threads(LLMParams(server_threads=0)) == 3
        assert server_threads(LLMParams(server_threads=2)) == 2  # llm.server_threads wins when set
    finally:
        resources.activate(ResourcesParams())


def test_params_have_resources_and_no_train_threads(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    params = load_params(REPO / "params.yaml")
    assert (params.resources.threads, params.resources.device) == (raw["resources"]["threads"],
                                                                    raw["resources"]["device"])
    raw["resources"].update(threads=3, device="cpu")
    read = tmp_path / "read.yaml"
    read.write_text(yaml.safe_dump(raw))
    assert (load_params(read).resources.threads, load_params(read).resources.device) == (3, "cpu")
    raw["resources"]["device"] = "tpu"
    read.write_text(yaml.safe_dump(raw))
    with pytest.raises(SynthclfError, match=r"resources.device: got 'tpu'; allowed: 'auto', 'cpu', 'cuda' or 'mps'"):
        load_params(read)
    assert "threads" not in TrainParams.model_fields
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["threads"] = 2
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(SynthclfError, match=r"unknown key 'train\.threads'"):
        load_params(bad)


def test_no_stage_depends_on_resources():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        body = stage.get("do", stage)
        keys = [key for entry in body.get("params", []) for key in ([entry] if isinstance(entry, str) else entry)]
        assert not [key for key in keys if key == "resources" or key.startswith("resources.")
                    or key in ("train.eval_batch_size",)], name


def test_cli_names_the_fix_for_cuda_without_a_gpu(tmp_path):
    """resources.device cuda where torch sees no CUDA: the command's error is one line."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["resources"] = {"threads": 1, "device": "cuda"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    code = ("import sys; from synthclf import resources; from synthclf.config import load_params\n"
            "from synthclf.errors import SynthclfError\n"
            "resources.activate(load_params(sys.argv[1]).resources)\n"
            "try:\n    resources.device()\nexcept SynthclfError as exc:\n    print(exc); sys.exit(2)\n")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU visible, even on a machine with one
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "params.yaml")], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 2
    assert done.stdout.strip().count("\n") == 0 and "resources.device: got 'cuda'" in done.stdout


def test_fit_transformer_reports_its_device():
    from synthclf.training.backends.transformer import fit_transformer, predict_texts

    train = TrainParams(epochs=1, min_steps=2, batch_size=4, max_length=16, eval_batch_size=3)
    texts = ["good film", "bad film", "great movie", "awful movie"] * 2
    labels = [1, 0, 1, 0] * 2
    resources.activate(ResourcesParams(threads=1, device="cpu"))
    try:
        model, tokenizer, stats = fit_transformer(texts, labels, ["neg", "pos"], train, seed=0)
        assert stats["device"] == "cpu"
        assert model.device.type == "cpu"
        predicted = predict_texts(model, tokenizer, texts, 16, batch_size=3)
        assert len(predicted) == len(texts) and set(predicted) <= {"neg", "pos"}
    finally:
        resources.activate(ResourcesParams())


@pytest.mark.parametrize(("setting", "device", "offload", "expected"), [
    ("auto", "auto", True, -1), ("auto", "cuda", True, -1), ("auto", "auto", False, 0),
    ("auto", "cpu", True, 0), (0, "auto", True, 0), (12, "cpu", False, 12), (-1, "auto", False, -1),
])
def test_gpu_layers_rule(setting, device, offload, expected):
    assert resources.resolve_gpu_layers(setting, device, offload=offload) == expected


def test_this_llama_build_keeps_the_server_on_the_cpu_with_auto():
    """The CPU wheel `make setup` builds has no GPU offload: auto must mean 0 layers here."""
    import llama_cpp

    assert resources.llama_gpu_offload() is bool(llama_cpp.llama_supports_gpu_offload())
    if not resources.llama_gpu_offload():
        assert resources.resolve_gpu_layers("auto", "auto") == 0


def test_server_command_passes_gpu_layers():
    from synthclf.generation.server import server_command
    from synthclf.settings.llm import LLMParams

    try:
        resources.activate(ResourcesParams(threads=1, gpu_layers=7))
        command = server_command(LLMParams(server_threads=1), "127.0.0.1", 8123)
        assert command[command.index("--n_gpu_layers") + 1] == "7"
    finally:
        resources.activate(ResourcesParams())
    with pytest.raises(ValueError):
        ResourcesParams(gpu_layers=-2)
