"""params.yaml `resources`: how many threads and which device this process uses.

A runtime knob: no stage depends on it (dvc.yaml), so changing it reruns nothing; outputs do not
depend on it beyond floating-point noise.

- `threads: 0` means the cores this process may use (`os.sched_getaffinity`) divided by the
  number of parallel DVC queue workers, read from $SYNTHCLF_WORKERS (docs/sharing-and-ci.md's
  `SYNTHCLF_WORKERS=2 dvc queue start -j 2` sets it), at least 1. A positive value is used as is.
- `device: auto` picks cuda, then mps, then cpu; naming a device that is not there is an error.
- `gpu_layers: auto` offloads every layer of the bundled llama.cpp server to the GPU when
  llama-cpp-python was built with GPU support and `device` is not cpu; 0 keeps it on the CPU.

The CLI calls `activate(params.resources)` once per command; code that runs torch, tokenizers
or BLAS calls `apply_threads()` after importing them and `device()` for where tensors go.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Literal

from pydantic import Field

from synthclf.errors import SynthclfError
from synthclf.schema import Strict

WORKERS_ENV = "SYNTHCLF_WORKERS"
# Read by OpenMP (torch, BLAS), MKL, OpenBLAS and Rust's rayon (tokenizers) when they load.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS")


class ResourcesParams(Strict):

    threads: int = Field(0, ge=0, description="threads for torch, tokenizers, BLAS and llama.cpp; "
                                              "0 = usable cores / $SYNTHCLF_WORKERS")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: cuda, then mps, then cpu")
    gpu_layers: Literal["auto"] | Annotated[int, Field(ge=-1)] = Field(
        "auto", description="llama.cpp layers on the GPU: auto = all when llama.cpp has GPU support, "
                            "0 = none, -1 = all, N = the first N")


_active = ResourcesParams()


def usable_cores() -> int:
    """The cores this process may run on (its affinity), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def queue_workers() -> int:
    """Parallel DVC queue workers sharing these cores, from $SYNTHCLF_WORKERS (1 when unset)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise SynthclfError(f"${WORKERS_ENV}: got {raw!r}; set it to the number of queue workers "
                            "(dvc queue start -j N), a whole number of at least 1, or unset it")
    return int(raw)


def resolve_threads(threads: int, cores: int | None = None, workers: int | None = None) -> int:
    """resources.threads as a count: a positive value as is; 0 = cores // workers, at least 1."""
    if threads > 0:
        return threads
    cores = usable_cores() if cores is None else cores
    workers = queue_workers() if workers is None else workers
    return max(1, cores // max(1, workers))


def resolve_device(device: str, cuda: bool | None = None, mps: bool | None = None) -> str:
    """resources.device as a torch device name; a named device that is missing is a user error."""
    if device == "cpu":
        return "cpu"
    if cuda is None or mps is None:
        import torch

        cuda = torch.cuda.is_available() if cuda is None else cuda
        mps_backend = getattr(torch.backends, "mps", None)
        mps = bool(mps_backend and mps_backend.is_available()) if mps is None else mps
    if device == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if device == "cuda" and not cuda:
        raise SynthclfError("resources.device: got 'cuda' but torch sees no CUDA GPU here; "
                            "set resources.device: auto (or cpu), or install a CUDA build of torch")
    if device == "mps" and not mps:
        raise SynthclfError("resources.device: got 'mps' but torch sees no Apple MPS device here; "
                            "set resources.device: auto (or cpu)")
    return device


def activate(resources: ResourcesParams) -> None:
    """Make `resources` this process's setting and apply its threads (called once per command)."""
    global _active
    _active = resources
    apply_threads()


def active() -> ResourcesParams:
    return _active


def threads() -> int:
    """This process's thread count, from the active resources."""
    return resolve_threads(_active.threads)


def device() -> str:
    """This process's torch device name, from the active resources."""
    return resolve_device(_active.device)


def apply_threads() -> int:
    """Limit torch, tokenizers and BLAS to `threads()`; returns the count.

    Environment variables cover libraries not loaded yet; threadpoolctl limits the BLAS/OpenMP
    pools already loaded; torch is set directly when it is imported. Call again after importing
    torch (cheap)."""
    count = threads()
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(count)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=count)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(count)
    return count


def llama_gpu_offload() -> bool:
    """Whether the installed llama-cpp-python can put layers on a GPU (a CUDA, Metal or Vulkan build)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def resolve_gpu_layers(setting: int | str, device_setting: str, offload: bool | None = None) -> int:
    """resources.gpu_layers as llama.cpp's --n_gpu_layers: auto = -1 (all) when this llama.cpp can
    offload and resources.device allows a GPU (not cpu), else 0; a number is passed as given.
    llama.cpp's own build decides, not torch's: no torch import in the generate stage."""
    if setting != "auto":
        return int(setting)
    if device_setting == "cpu":
        return 0
    return -1 if (llama_gpu_offload() if offload is None else offload) else 0
