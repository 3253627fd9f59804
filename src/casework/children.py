"""Child processes that die with their parent, and stopping them within a bound.

A child is started in a process group of its own (so a Ctrl-C at the terminal reaches only the
parent, which stops its children in order, and a hard stop can kill a child with whatever it
forked) and with a Linux parent-death signal, so that a parent killed with SIGKILL leaves no
orphan: the kernel sends the child its stop signal the moment the parent is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import psutil

PR_SET_PDEATHSIG = 1
# Looked up once here: a preexec function runs between fork and exec and should do no more
# than the one call (no imports, no allocation-heavy work) while other threads may hold locks.
_prctl = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    if sys.platform == "linux"
    else None
)


class CannotStart(Exception):
    """A server we should run cannot be started; the message says why and what to do."""


def _dies_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def spawn(
    argv: Sequence[str],
    death_signal: signal.Signals,
    log: IO[bytes],
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start `argv` in its own process group; the kernel sends it `death_signal` if we die.

    The parent-death signal is sent when the thread that forked the child ends: spawn from the
    main thread (the event loop's), never from a worker thread that may come and go.
    """
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        user=user,
        env=env,
        process_group=0,
        preexec_fn=_dies_with_parent(death_signal),
    )


def stop(process: subprocess.Popen, sig: signal.Signals, timeout: float) -> None:
    """Send `sig`; if the child has not exited within `timeout`, kill its process group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process.pid)
            process.wait(timeout=5)
    # What the child forked (PostgreSQL's backends) may outlive it by a moment: not past here.
    kill_group(process.pid)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_pid(pid: int, sig: signal.Signals, timeout: float) -> None:
    """Stop a process that is not our child (a server left behind by a killed parent)."""
    try:
        process = psutil.Process(pid)
        process.send_signal(sig)
        process.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
            process.wait(timeout=5)


def processes_using(path: Path) -> list[psutil.Process]:
    """Live processes whose command line names `path` (a server's data file or directory)."""
    wanted = str(path)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if process.info["cmdline"] and wanted in process.info["cmdline"]:
                found.append(process)
    return found
