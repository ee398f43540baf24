"""Interrupts with real processes: `synthclf generate` with its own bundled llama.cpp server, signalled
while calls are in flight (issue 15; issue 10, item 6).

Each case is repeated (the original failure was intermittent), alternating a normal start with one
that inherits SIGINT as ignored, as a background job of a non-interactive shell does: that
inheritance is what made `kill -INT` do nothing and a terminal's Ctrl-C end in a blamed endpoint.
The repetitions share one cache, so each one also resumes the previous; at the end a rerun must
finish without asking any finished call again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from synthclf import paths

pytestmark = pytest.mark.slow

SYNTHCLF = str(Path(sys.executable).with_name("synthclf"))
GENERATE = [SYNTHCLF, "generate", "--task", "sms_spam", "--setting", "zero_shot"]
EXIT_LIMIT_S = 10.0  # 2 s on an idle machine; generous for 2 shared cores
LINE = re.compile(r"interrupted: (\d+) finished calls are cached; rerun to resume")
REPEATS = 3


# --- processes ------------------------------------------------------------------------------------

class Stages:
    """The processes a test starts, each in its own process group (as a terminal's foreground job),
    stderr to a file. The `stages` fixture kills every group still running when the test ends, passed
    or failed, so no stage or bundled server outlives a test that stopped half-way."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], cwd: Path, stderr: Path, *, sigint_ignored: bool = False,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr.open("w"), start_new_session=True, preexec_fn=preexec)
        self.started.append(process)
        return process

    def generate(self, root: Path, name: str, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen, Path]:
        """`synthclf generate` for sms_spam/zero_shot in `root`; stderr goes to <name>.stderr."""
        stderr = root / f"{name}.stderr"
        process = self.start(GENERATE, root, stderr, sigint_ignored=sigint_ignored,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return process, stderr

    def kill_remaining(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def stages() -> Iterator[Stages]:
    started = Stages()
    yield started
    started.kill_remaining()


def seconds_to_exit(process: subprocess.Popen, send: Callable[[], None]) -> float:
    """Send the signal (`send`), wait for the process to end (at most a minute): the seconds it took."""
    sent = time.monotonic()
    send()
    process.wait(timeout=60)
    return time.monotonic() - sent


def ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def is_server(pid: int) -> bool:
    try:
        return b"llama_cpp.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def server_child(ancestor: int) -> int:
    """The bundled server started under `ancestor` (it is up once calls are being cached)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        info = ppid_and_state(int(entry.name)) if entry.name.isdigit() else None
        if info:
            parents[int(entry.name)] = info[0]
    for pid, parent in parents.items():
        while parent > 1 and parent != ancestor:
            parent = parents.get(parent, 0)
        if parent == ancestor and is_server(pid):
            return pid
    raise AssertionError(f"no llama_cpp.server under {ancestor}")


def gone(pid: int, within_s: float) -> bool:
    """The process has exited (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        info = ppid_and_state(pid)
        if info is None or info[1] == "Z" or not is_server(pid):
            return True
        time.sleep(0.05)
    return False


def cached_rows(root: Path) -> list[dict]:
    db_path = root / ".synthclf_cache" / "responses.sqlite"
    if not db_path.exists():
        return []
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return [json.loads(row[0]) for row in db.execute("SELECT request FROM responses")]
    except sqlite3.OperationalError:  # the stage is creating the table right now
        return []


def wait_for_new_rows(root: Path, before: int, new: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "generation ended before it could be interrupted; raise per_class"
        if len(cached_rows(root)) >= before + new:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {new} new cached calls after {timeout_s}s")


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_until_computing(server: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    """Until the bundled server is computing an answer: a call is in flight now (the server sleeps
    between calls, and computes only for one). Two busy 50 ms windows in a row, so a call that is
    about to finish is not mistaken for one in progress."""
    deadline = time.monotonic() + timeout_s
    busy_windows = 0
    while time.monotonic() < deadline:
        assert process.poll() is None, "generation ended before it could be interrupted; raise per_class"
        before = cpu_ticks(server)
        time.sleep(0.05)
        busy_windows = busy_windows + 1 if cpu_ticks(server) > before else 0
        if busy_windows >= 2:
            return
    raise AssertionError(f"the bundled server computed nothing for {timeout_s}s")


def stop_lines(stderr: Path) -> list[str]:
    """stderr without the progress bar (tqdm redraws it with carriage returns)."""
    text = stderr.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("generate sms_spam/")]


# --- the cases ------------------------------------------------------------------------------------

def sigint_to_pid(process: subprocess.Popen, _server: int) -> None:
    process.send_signal(signal.SIGINT)


def sigint_to_group(process: subprocess.Popen, server: int) -> None:
    # A terminal's Ctrl-C reaches the whole foreground group. The server now has its own session,
    # so it is signalled by hand too: a server dying of the same keystroke must still read as the interrupt.
    os.killpg(process.pid, signal.SIGINT)
    os.kill(server, signal.SIGINT)


def sigterm_to_pid(process: subprocess.Popen, _server: int) -> None:
    process.send_signal(signal.SIGTERM)


CASES = {"sigint_pid": (sigint_to_pid, 130), "sigint_group": (sigint_to_group, 130),
         "sigterm": (sigterm_to_pid, 143)}


def small_project(gen_project, llm: dict, per_class: int) -> Path:
    # one replicate, and learning-curve sizes below the tiny per_class
    root = gen_project(llm=llm, generate={"per_class": per_class, "replicates": 1})
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["compare"] = {"sizes": [1]}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


@pytest.fixture
def bundled_project(gen_project) -> Path:
    # The stage starts its own server (base_url null); one thread keeps two calls in flight most of
    # the time. Long retry delays: waiting through one would show in the exit time.
    return small_project(gen_project, {"base_url": None, "server_threads": 1, "concurrency": 2, "max_retries": 6,
                                       "retry_base_s": 2.0, "retry_max_s": 30}, per_class=3)


def interrupt_once(stages: Stages, root: Path, send: Callable[[subprocess.Popen, int], None], exit_code: int,
                   name: str, sigint_ignored: bool) -> None:
    before = len(cached_rows(root))
    process, stderr = stages.generate(root, name, sigint_ignored=sigint_ignored)
    wait_for_new_rows(root, before, 1, process)
    server = server_child(process.pid)
    wait_until_computing(server, process)   # a call in flight when the signal comes, not assumed
    took = seconds_to_exit(process, lambda: send(process, server))
    lines = stop_lines(stderr)
    assert process.returncode == exit_code, lines
    assert took < EXIT_LIMIT_S, f"{name}: exit took {took:.1f}s"
    assert len(lines) == 1 and LINE.fullmatch(lines[0]), lines
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()
    assert gone(server, within_s=2), f"{name}: the bundled server {server} survived"
    # The failure record: written, with calls still in flight when the signal came, and the line's
    # count is every finished call this run saw (fresh ones are committed before they are counted).
    record = json.loads(paths.metrics_file("generate", "sms_spam", "zero_shot").read_text())
    assert record["status"] == "failed"
    assert record["http_requests"] > record["calls"], "no call was in flight"
    assert int(LINE.fullmatch(lines[0]).group(1)) == record["calls"] + record["cache_hits"]
    assert len(cached_rows(root)) == before + record["calls"]
    assert record["cache_hits"] >= min(before, 1)  # a rerun starts from the cache


def rerun_asks_nothing_twice(root: Path) -> None:
    """The rerun finishes, taking every finished call from the cache. A call asked again would
    count in `calls` without adding a row (its key is already there)."""
    before = len(cached_rows(root))
    rerun = subprocess.run(GENERATE, cwd=root, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    metrics = json.loads(paths.metrics_file("generate", "sms_spam", "zero_shot").read_text())
    assert metrics["status"] in ("ok", "short") and paths.synthetic_file("sms_spam", "zero_shot").exists()
    assert metrics["cache_hits"] >= before > 0
    assert len(cached_rows(root)) == before + metrics["calls"], "a finished call was asked again"


@pytest.mark.parametrize("case", list(CASES))
def test_a_signal_stops_generate_at_once_and_the_rerun_resumes(bundled_project, stages, case) -> None:
    send, exit_code = CASES[case]
    for repeat in range(REPEATS):
        interrupt_once(stages, bundled_project, send, exit_code, f"{case}-{repeat}", sigint_ignored=repeat % 2 == 1)
    rerun_asks_nothing_twice(bundled_project)


def test_sigkill_takes_the_bundled_server_with_it_and_the_rerun_resumes(bundled_project, stages) -> None:
    process, _stderr = stages.generate(bundled_project, "sigkill")
    wait_for_new_rows(bundled_project, 0, 1, process)
    server = server_child(process.pid)
    # its log is an unlinked file: nothing to leave behind in /tmp when the stage is killed
    assert os.readlink(f"/proc/{server}/fd/1").endswith("(deleted)")
    process.send_signal(signal.SIGKILL)   # the stage alone, not its group: the server must follow by itself
    process.wait()
    assert gone(server, within_s=5), "the bundled server outlived its killed stage"
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()
    rerun_asks_nothing_twice(bundled_project)


def test_a_signal_during_the_model_load_stops_at_once(bundled_project, stages) -> None:
    """A signal while the stage's server is still starting: stopped, nothing cached, no server left."""
    process, stderr = stages.generate(bundled_project, "start-up")
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None and time.monotonic() < deadline
        with contextlib.suppress(AssertionError):
            server = server_child(process.pid)
            break
        time.sleep(0.02)
    took = seconds_to_exit(process, lambda: process.send_signal(signal.SIGINT))
    assert process.returncode == 130 and took < EXIT_LIMIT_S
    assert stop_lines(stderr) == ["interrupted: 0 finished calls are cached; rerun to resume"]
    assert gone(server, within_s=2) and not cached_rows(bundled_project)


@pytest.fixture
def stalling_proxy():
    from fault_proxy import FaultProxy

    # Every completion stalls, so nothing is ever forwarded: the upstream is a closed port.
    with FaultProxy(upstream="http://127.0.0.1:9/v1", stall_s=60) as proxy:
        yield proxy
        # End the stalled handlers now, so none is left pending when the proxy's loop stops.
        asyncio.run_coroutine_threadsafe(_cancel_other_tasks(), proxy.loop).result(10)


async def _cancel_other_tasks() -> None:
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


@pytest.mark.parametrize("case", list(CASES))
def test_calls_in_flight_are_not_waited_for(gen_project, stalling_proxy, stages, case) -> None:
    """Every call stalls for a minute at the proxy: only a stage that abandons them stops in time."""
    send, exit_code = CASES[case]
    root = small_project(gen_project, {"base_url": stalling_proxy.url, "backend": "llama_cpp", "concurrency": 2,
                                       "timeout_s": 120}, per_class=3)
    stalling_proxy.faults.extend(["stall"] * 100)
    process, stderr = stages.generate(root, case, sigint_ignored=case == "sigint_group")
    deadline = time.monotonic() + 60
    while len(stalling_proxy.seen) < 2 and time.monotonic() < deadline:
        assert process.poll() is None
        time.sleep(0.05)
    assert len(stalling_proxy.seen) == 2  # both calls are in flight, neither can finish
    if case == "sigint_group":  # no server of its own here: the group is the stage alone
        took = seconds_to_exit(process, lambda: os.killpg(process.pid, signal.SIGINT))
    else:
        took = seconds_to_exit(process, lambda: send(process, 0))
    assert process.returncode == exit_code
    assert took < EXIT_LIMIT_S, f"exit took {took:.1f}s"
    assert stop_lines(stderr) == ["interrupted: 0 finished calls are cached; rerun to resume"]
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()


# --- the other long stages ------------------------------------------------------------------------

@pytest.fixture
def training_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny real-data project (as tests/test_training.py builds it) with enough steps to interrupt."""
    from synthclf.records import write_jsonl

    def records(per_label: int, seed: int) -> list[dict]:
        texts = {"spam": "WIN a free prize now, call {n} to claim your cash",
                 "ham": "are we still meeting at {n} today"}
        return [{"id": f"{label}-{seed}-{n}", "task": "sms_spam", "text": text.format(n=n + 10 * seed), "label": label,
                 "source": "real"} for label, text in texts.items() for n in range(per_label)]

    repo = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params.update(tasks=["sms_spam"], sources=["real"], mixes=[],
                  split={"sms_spam": {"train_size": 40, "test_size": 20, "pool_size": 4}})
    # fine-tuning (optimiser steps to interrupt), whatever the default backend is
    params["train"].update(backend="transformer", epochs=1, min_steps=2000, batch_size=8, max_length=32, seeds=[0])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    write_jsonl(paths.validated_file("sms_spam", "real"), records(20, seed=1))
    write_jsonl(paths.prepared_split("sms_spam", "test"), records(10, seed=2))
    return tmp_path


def test_train_stops_and_keeps_the_previous_checkpoint(training_project: Path, stages) -> None:
    signum = signal.SIGTERM  # SIGINT takes the same path (both raise Interrupted)
    model_dir = training_project / paths.model_dir("sms_spam", "real")
    model_dir.mkdir(parents=True)
    (model_dir / "previous.txt").write_text("the checkpoint of an earlier run")
    stderr = training_project / "train.stderr"
    process = stages.start([SYNTHCLF, "train", "--task", "sms_spam", "--source", "real"], training_project, stderr)
    deadline = time.monotonic() + 120
    while "step/s" not in stderr.read_text(errors="replace") and "s/step" not in stderr.read_text(errors="replace"):
        assert process.poll() is None and time.monotonic() < deadline, stderr.read_text()[-2000:]
        time.sleep(0.1)
    # the group: as a terminal's Ctrl-C, or a supervisor's stop
    took = seconds_to_exit(process, lambda: os.killpg(process.pid, signum))
    lines = [line for line in stderr.read_text(errors="replace").replace("\r", "\n").splitlines()
             if line.startswith(("interrupted", "error", "Traceback", "Aborted"))]
    assert process.returncode == 128 + signum
    assert took < EXIT_LIMIT_S, f"exit took {took:.1f}s"
    assert lines == ["interrupted: stopped before finishing, nothing half-written; rerun to start again"]
    assert sorted(path.name for path in model_dir.iterdir()) == ["previous.txt"]
    assert [path.name for path in model_dir.parent.iterdir()] == ["real"]  # no staging directory left
    assert not paths.metrics_file("train", "sms_spam", "real").exists()


def test_ctrl_c_under_dvc_repro_leaves_dvc_lock_as_it_was(bundled_project: Path, stages) -> None:
    """dvc ignores SIGINT while its stage runs and records a stage only when it succeeds: the stage
    must stop by itself, and then dvc.lock keeps what it had (here: only the stage that finished)."""
    stage = {"cmd": " ".join(GENERATE),
             "params": ["llm", "generate"], "outs": [str(paths.synthetic_file("sms_spam", "zero_shot"))],
             "metrics": [{str(paths.metrics_file("generate", "sms_spam", "zero_shot")): {"cache": False}}]}
    other = {"cmd": "echo done > other.txt", "outs": ["other.txt"]}
    (bundled_project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"other": other, "generate": stage}}))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=bundled_project, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=bundled_project, check=True, env=env)
    subprocess.run(["dvc", "repro", "-q", "other"], cwd=bundled_project, check=True, env=env)
    lock = (bundled_project / "dvc.lock").read_bytes()
    assert b"other" in lock and b"generate" not in lock

    stderr = bundled_project / "dvc.stderr"
    process = stages.start(["dvc", "repro", "generate"], bundled_project, stderr, env=env)
    wait_for_new_rows(bundled_project, 0, 1, process)
    server = server_child(process.pid)  # dvc -> (shell ->) synthclf -> server
    # Ctrl-C: dvc, its shell and the stage all get it
    took = seconds_to_exit(process, lambda: os.killpg(process.pid, signal.SIGINT))
    text = stderr.read_text(errors="replace")
    assert process.returncode != 0 and took < EXIT_LIMIT_S + 5, (process.returncode, took, text[-1000:])
    assert LINE.search(text), text[-1000:]
    assert (bundled_project / "dvc.lock").read_bytes() == lock
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()
    assert gone(server, within_s=2)


# --- the mechanism, in this process ----------------------------------------------------------------

def test_the_interrupt_wins_over_what_the_cancelled_work_ended_with() -> None:
    """A call that fails because of the interrupt (its connection dropped) must read as the interrupt."""
    from synthclf.interrupts import Interrupted, run_async

    async def call_in_flight() -> None:
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise ConnectionResetError("the server went away") from None

    started = time.monotonic()
    with pytest.raises(Interrupted) as stopped:
        run_async(call_in_flight())
    assert time.monotonic() - started < 5
    assert stopped.value.exit_code == 130 and stopped.value.line.startswith("interrupted: ")


def test_sigterm_raises_and_an_inherited_ignore_is_overridden_then_restored() -> None:
    from synthclf.interrupts import Interrupted, handled

    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a script
    previous_term = signal.getsignal(signal.SIGTERM)
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with pytest.raises(Interrupted) as stopped, handled():
                os.kill(os.getpid(), signum)
                time.sleep(5)
            assert stopped.value.exit_code == 128 + signum
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is previous_term
    finally:
        signal.signal(signal.SIGINT, previous_int)
