"""Sandbox test helpers: small configs (short timeouts, small memory) so the suite stays fast on 2 cores."""

from __future__ import annotations

import os
import socket
import time

from r1ci.config import SandboxConfig

# A secret the hostile tests put in the host's environment: no snippet may ever see it.
HOST_SECRET = "r1ci-test-secret-5b1f0c"


def small_config(**overrides) -> SandboxConfig:
    """The test sandbox: 2 workers, 2 s default timeout, 1 GB address space."""
    base = {"kind": "local", "pool_size": 2, "timeout_s": 2.0, "memory_mb": 1024, "max_output_bytes": 4096}
    base.update(overrides)
    return SandboxConfig(**base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_processes_matching(marker: str, wait_s: float = 5.0) -> list[int]:
    """pids of host processes whose command line contains `marker`, after waiting up to `wait_s` for
    them to go (a finished execution's namespace is killed right after its result is sent)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = _matching(marker)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _matching(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def descendants(pid: int) -> list[int]:
    """All processes below `pid` (e.g. the zygote inside a worker's bwrap)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(c) for c in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def zygote_pid(worker_pid: int) -> int:
    """The zygote (python) process of a worker: the bootstrap's child of bwrap (its forked children
    carry the same command line but have the zygote as parent)."""
    for p in descendants(worker_pid):
        status = _read(f"/proc/{p}/status").decode()
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "0")
        argv = _read(f"/proc/{p}/cmdline").split(b"\0")
        if (
            b"python" in argv[0]
            and b"r1ci_sandbox_zygote" in argv[4]
            and b"bwrap" in _read(f"/proc/{ppid}/cmdline")
        ):
            return p
    raise LookupError(f"no zygote under {worker_pid}")


def named(code: str, name: str) -> str:
    """`code`, run under a process name the host can find in /proc/<pid>/comm (prctl PR_SET_NAME)."""
    return f"import ctypes\nctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0)\n{code}"


def host_pids_named(name: str) -> list[int]:
    pids = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open(f"/proc/{p}/comm").read().strip() == name:
                pids.append(int(p))
        except OSError:
            pass
    return pids


async def running(name: str) -> int:
    """Wait until a snippet started with `named(code, name)` runs; its host pid. An event, not a time
    bound: the test's own timeout ends a wait that never ends."""
    import asyncio

    while not (pids := host_pids_named(name)):
        await asyncio.sleep(0.01)
    return pids[0]
