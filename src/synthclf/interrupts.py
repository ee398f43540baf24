"""SIGINT and SIGTERM: every command stops at once, says so in one line and leaves nothing half-written.

Python's own Ctrl-C handling is not enough for a pipeline stage:
- a process started in the background by a non-interactive shell (a script's `cmd &`, some IDEs
  and supervisors) inherits SIGINT as *ignored*, and Python keeps it that way: `kill -INT` does
  nothing, and asyncio.run does not install its handler either;
- SIGTERM ends the process without any clean-up and without a word;
- a KeyboardInterrupt raised inside a running event loop lands at an arbitrary point of a task
  (say, between a finished call and its cache commit), and a task that fails while the others are
  being cancelled wins over the interrupt: the run then blames whatever failed.

So every command runs under `handled()`. The first SIGINT or SIGTERM raises `Interrupted` where the
main thread is (a KeyboardInterrupt, so `except Exception` never swallows it and the atomic
writers clean up), exit code 128 + the signal's number. While `run_async` drives an event loop
the signal instead cancels the loop's main task (every call in flight with it) and `Interrupted`
is raised once the loop has unwound, whatever the tasks ended with. Repeats within GRACE_S of the
first are ignored, so a second Ctrl-C (or the same signal sent to the pid and to the group) cannot
cut the clean-up short; a later one raises again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 5.0
DEFAULT_DETAIL = "stopped before finishing, nothing half-written; rerun to start again"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. `detail` completes the one line the CLI prints."""

    def __init__(self, signum: int, detail: str = DEFAULT_DETAIL) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.detail = detail

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process killed by that signal

    @property
    def line(self) -> str:
        return f"interrupted: {self.detail}"


class _State:
    def __init__(self) -> None:
        self.depth = 0  # nested handled() blocks: only the outermost installs and restores
        self.signum: int | None = None  # the first signal received in this block
        self.at = 0.0
        self.deliver: Callable[[int], None] | None = None  # set while an event loop owns the interrupt
        self.pid = 0  # the process that installed the handler
        self.early = False  # installed at the command line's start (hold_until_handled)


_state = _State()


def received() -> int | None:
    """The signal that interrupted this command, if any."""
    return _state.signum


def _on_signal(signum: int, _frame: Any) -> None:
    if os.getpid() != _state.pid:  # a forked child (multiprocessing) inherited us: act as if we were not there
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    now = time.monotonic()
    if _state.signum is not None and now - _state.at < GRACE_S:
        return  # the first one is being handled; let its clean-up finish
    _state.signum = _state.signum or signum
    _state.at = now
    if _state.deliver is not None:
        _state.deliver(signum)
        return
    raise Interrupted(_state.signum)


def hold_until_handled() -> None:
    """For the command line, from its first imports on: a signal that comes before the command runs
    is remembered (not raised in the middle of an import) and raised when `handled()` is entered;
    one that comes after the command has finished changes nothing."""
    if threading.current_thread() is not threading.main_thread() or _state.early:
        return
    _state.early, _state.signum, _state.deliver, _state.pid = True, None, _record_only, os.getpid()
    for sig in SIGNALS:
        signal.signal(sig, _on_signal)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` for the length of the block (main thread only:
    Python delivers signals there; elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = _state.depth == 0
    previous = {}
    if outermost and _state.early:
        _state.deliver = None  # and a signal that came during start-up is raised below
    elif outermost:
        _state.signum, _state.deliver, _state.pid = None, None, os.getpid()
        # Installed even where the signal was inherited as ignored: a command must stop when told to.
        previous = {sig: signal.signal(sig, _on_signal) for sig in SIGNALS}
    _state.depth += 1
    try:
        if outermost and _state.signum is not None:
            raise Interrupted(_state.signum)
        yield
    finally:
        _state.depth -= 1
        if outermost:
            if _state.early:
                _state.deliver = _record_only
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def as_interrupted(exc: KeyboardInterrupt) -> Interrupted:
    """A KeyboardInterrupt from outside `handled()` (Python's own) is a SIGINT."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


def run_script(main: Callable[[], None], detail: str = "the script stopped before its results; rerun it") -> None:
    """A script's entry point (the benchmarks): SIGINT or SIGTERM ends it with one line on stderr
    and exit code 130 or 143, after its `finally` blocks and context managers have cleaned up."""
    try:
        with handled():
            main()
    except KeyboardInterrupt as exc:
        stopped = as_interrupted(exc)
        print(f"interrupted: {detail}", file=sys.stderr, flush=True)
        sys.exit(stopped.exit_code)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run for a command: a signal cancels the main task (so no exception lands inside a
    task or the loop's own code) and `Interrupted` is raised after the loop is closed, in place of
    whatever the cancelled work ended with: a connection error after an interrupt is the interrupt."""
    with handled():
        _state.deliver = _record_only
        try:
            with asyncio.Runner() as runner:  # ours is installed, so the Runner adds no SIGINT handler
                try:
                    result = runner.run(_cancelled_on_signal(main))
                except BaseException:
                    if _state.signum is None:
                        raise
                    result = None
        finally:
            _state.deliver = None
        if _state.signum is not None:
            raise Interrupted(_state.signum) from None
        return result


def _record_only(_signum: int) -> None:
    """Before the main task starts and after it ends: remember, and raise after the loop is closed."""


async def _cancelled_on_signal(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def deliver(_signum: int) -> None:
        # The handler runs between two bytecodes of the loop's thread, possibly inside the loop's
        # own code: hand the cancellation to the loop instead of doing it here.
        with contextlib.suppress(RuntimeError):  # the loop is already closing
            loop.call_soon_threadsafe(task.cancel)

    _state.deliver = deliver
    try:
        if _state.signum is not None:  # arrived while the loop was starting
            task.cancel()
        return await main
    finally:
        _state.deliver = _record_only


def guarded(action: Callable[[], T]) -> T:
    """Run a command; a user error becomes one line on stderr and exit code 2, SIGINT or SIGTERM
    one `interrupted: ...` line and exit code 130 or 143. Every CLI command runs through this."""
    import typer

    from synthclf.errors import SynthclfError

    try:
        with handled():
            return action()
    except SynthclfError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        stopped = as_interrupted(exc)
        typer.echo(stopped.line, err=True)
        raise typer.Exit(stopped.exit_code) from None
