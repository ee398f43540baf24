"""The bundled generator (llm.model: SmolLM2 or a Qwen2.5-Coder, see assets) behind llama-cpp-python's
OpenAI-compatible server.

`local_server(llm)` starts `python -m llama_cpp.server` on a free loopback port, waits until
/v1/models answers, yields the base URL and stops the server on success, error and Ctrl-C.
`spawned_server(llm)` is the same for asynchronous callers: it only starts the process, and
`await server.until_ready()` waits without holding up the event loop (an interrupt during a model
load is acted on at once). `serve_forever` is the `synthclf serve` command: the server in the foreground.

The server child gets no API key from our environment. It runs in its own session, so a terminal's
Ctrl-C (sent to the whole foreground process group) reaches only us: we stop it, and its death can
never look like an endpoint fault. On Linux it dies with its parent even when the parent is
SIGKILLed (PR_SET_PDEATHSIG, SIGKILL: it holds nothing worth a graceful stop), so a killed run never
leaves a model behind. On an interrupt it is killed at once instead of finishing its current request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from synthclf.assets import generator_chat_format, generator_gguf
from synthclf.errors import SynthclfError
from synthclf.settings.llm import LLMParams

ServerLog = Path | IO[bytes]  # a log file the caller names, or our own unlinked one
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
# Variables that may hold credentials; the local model needs none of them.
SECRET_ENV_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def busy_cores(window_s: float = 0.3) -> float:
    """Cores busy right now: /proc/stat sampled over `window_s`; the 1-minute load average where
    there is no /proc (macOS). Not the load average on Linux: it still counts the stage that just
    ended, so every generate stage after the first would see a busy core and start on one thread."""
    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    first = sample()
    if first is not None:
        time.sleep(window_s)
        second = sample()
        if second is not None:
            total, idle = second[0] - first[0], second[1] - first[1]
            # /proc/stat's first line sums every CPU of the machine, not only this process's affinity
            return (total - idle) / total * (os.cpu_count() or 1) if total > 0 else 0.0
    return os.getloadavg()[0]


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """llama.cpp threads for llm.server_threads 0: the cores this process may use minus the ones
    busy now (busy_cores, rounded), at least 1.

    Why so careful: llama.cpp's threads spin while they wait for each other, so one thread more
    than the free cores costs far more than it gives (measured on 2 shared cores with one other
    busy process: 80 tokens/s with 1 thread, 11 with 2)."""
    from synthclf import resources

    if cores is None:
        cores = resources.usable_cores()
    if load is None:
        load = busy_cores()
    return max(1, min(cores, cores - round(load)))


def server_threads(llm: LLMParams) -> int:
    """llm.server_threads when set; else resources.threads when set; else the cores free now."""
    from synthclf import resources

    return llm.server_threads or resources.active().threads or auto_threads()


def server_command(llm: LLMParams, host: str, port: int) -> list[str]:
    from synthclf import resources

    threads = server_threads(llm)
    chat_format = generator_chat_format(llm.model)
    gpu_layers = resources.resolve_gpu_layers(resources.active().gpu_layers, resources.active().device)
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(generator_gguf(llm.model)),
        "--model_alias", llm.model,
        *(["--chat_format", chat_format] if chat_format else []),
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(llm.server_context),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--n_gpu_layers", str(gpu_layers),
        "--interrupt_requests", "false",  # a new request must never cut a running one short
        "--verbose", "false",
    ]


def _child_env(llm: LLMParams) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name != llm.api_key_env and not any(hint in name.upper() for hint in SECRET_ENV_HINTS)}
    env["OMP_NUM_THREADS"] = str(llm.server_threads)
    return env


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above: nobody would stop us
        os._exit(1)


def wait_until_ready(base_url: str, process: subprocess.Popen, log: ServerLog,
                     timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll /v1/models until it answers; fail clearly if the server dies or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            _check_running(process, log)
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/models").status_code == 200:
                    return
            time.sleep(0.2)
    raise _not_ready(base_url, log, timeout_s)


async def wait_until_ready_async(base_url: str, process: subprocess.Popen, log: ServerLog,
                                 timeout_s: float = READY_TIMEOUT_S) -> None:
    """`wait_until_ready` for an event loop: cancellable at every step."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            _check_running(process, log)
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base_url}/models")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise _not_ready(base_url, log, timeout_s)


def _check_running(process: subprocess.Popen, log: ServerLog) -> None:
    if process.poll() is not None:
        tail = _log_tail(log)
        raise SynthclfError(f"the bundled LLM server exited with code {process.returncode} while "
                            f"starting: {tail or 'no output'}; check llm.server_* in params.yaml")


def _not_ready(base_url: str, log: ServerLog, timeout_s: float) -> SynthclfError:
    return SynthclfError(f"the bundled LLM server did not answer on {base_url} within {timeout_s:.0f}s; "
                         f"last output: {_log_tail(log) or 'none'}")


def _log_tail(log: ServerLog, lines: int = 3, window: int = 1 << 16) -> str:
    with contextlib.suppress(OSError, ValueError):
        if isinstance(log, Path):
            data = log.read_bytes()[-window:]
        else:  # an unlinked file the child writes to: read by position, leaving the shared offset alone
            size = os.fstat(log.fileno()).st_size
            data = os.pread(log.fileno(), min(size, window), max(0, size - window))
        text = data.decode("utf-8", errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])
    return ""


def stop(process: subprocess.Popen, grace_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it lingers past grace_s (at once with grace_s 0)."""
    if process.poll() is not None:
        return
    if grace_s > 0:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


@dataclass(frozen=True)
class ServerProcess:
    base_url: str
    process: subprocess.Popen
    log: ServerLog

    async def until_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        await wait_until_ready_async(self.base_url, self.process, self.log, timeout_s)


@contextlib.contextmanager
def spawned_server(llm: LLMParams, host: str = "127.0.0.1", port: int = 0,
                   log_path: Path | None = None) -> Iterator[ServerProcess]:
    """Start the bundled model's server process (not waiting for it to answer) and always stop it:
    gracefully after success or an error, at once after an interrupt (nothing waits for its
    current request then)."""
    llm = llm.model_copy(update={"server_threads": server_threads(llm)})  # decide 0 = auto once
    port = port or free_port(host)
    base_url = f"http://{host}:{port}/v1"
    linux = sys.platform == "linux"
    # Our own log is unlinked from the start, so not even a SIGKILLed run leaves it behind.
    with open(log_path, "wb") if log_path else tempfile.TemporaryFile(prefix="synthclf-llm-server-") as log:
        process = subprocess.Popen(server_command(llm, host, port), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=_child_env(llm), start_new_session=True,
                                   preexec_fn=functools.partial(_die_with_parent, os.getpid()) if linux else None)
        try:
            yield ServerProcess(base_url, process, log_path or log)
        except KeyboardInterrupt:
            stop(process, grace_s=0)
            raise
        finally:
            stop(process)


@contextlib.contextmanager
def start_server(llm: LLMParams, host: str = "127.0.0.1", port: int = 0,
                 log_path: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the bundled model's server; yields (base_url, process) once it answers, and always stops it."""
    with spawned_server(llm, host, port, log_path) as server:
        wait_until_ready(server.base_url, server.process, server.log)
        yield server.base_url, server.process


@contextlib.contextmanager
def local_server(llm: LLMParams) -> Iterator[str]:
    """The bundled model on a free loopback port, for the length of the block; yields the base URL."""
    with start_server(llm) as (base_url, _process):
        yield base_url


def serve_forever(llm: LLMParams, host: str, port: int) -> None:
    """`synthclf serve`: run the bundled model's server until Ctrl-C, printing its URL."""
    with start_server(llm, host=host, port=port) as (base_url, process):
        print(f"serving {llm.model} at {base_url} (OpenAI-compatible); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            process.wait()
        if process.returncode not in (None, 0, -signal.SIGTERM):
            raise SynthclfError(f"the LLM server stopped with code {process.returncode}")
