"""`sandbox=unsafe`: a bare `python -c` subprocess per snippet. NO ISOLATION.

Only for machines without bubblewrap (a laptop demo). The code can read your files and secrets and use
the network; only rlimits (via util-linux `prlimit`, when present), a timeout and output caps apply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import time
import warnings

from r1ci.config import SandboxConfig
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.bwrap import CLEAN_ENV
from r1ci.sandbox.result import ExecResult, with_marker

log = logging.getLogger(__name__)
BANNER = (
    "sandbox=unsafe: model-written code runs WITHOUT ISOLATION as user %s (files, secrets, network "
    "all reachable). Use sandbox=local (bubblewrap) or sandbox=remote for anything but a demo."
)


class UnsafeSandbox(Sandbox):
    def __init__(self, cfg: SandboxConfig) -> None:
        super().__init__(cfg)
        msg = BANNER % os.getuid()
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        log.warning("!" * 20 + " " + msg + " " + "!" * 20)
        self._prlimit = shutil.which("prlimit")
        self._slots = asyncio.Semaphore(max(1, cfg.pool_size or len(os.sched_getaffinity(0))) * 4)

    def _argv(self, code: str) -> list[str]:
        argv = [sys.executable, "-I", "-c", code]
        if self._prlimit is None:
            return argv
        c, mb = self.cfg, 1 << 20
        return [
            self._prlimit,
            f"--cpu={c.cpu_s}",
            f"--as={c.memory_mb * mb}",
            f"--fsize={c.file_size_mb * mb}",
            f"--nofile={c.open_files}",
            "--core=0",
            "--",
        ] + argv

    async def _execute(self, code: str, timeout_s: float) -> ExecResult:
        async with self._slots:
            t0 = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self._argv(code),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(CLEAN_ENV),
                start_new_session=True,
                cwd="/tmp",
            )
            limit = self.cfg.max_output_bytes
            reads = asyncio.ensure_future(
                asyncio.gather(_read_capped(proc.stdout, limit), _read_capped(proc.stderr, limit))
            )
            timed_out = not await _exited(proc, t0 + timeout_s)
            wall = time.monotonic() - t0
            _kill_group(proc.pid)  # the timed-out snippet, or background processes it left behind
            await proc.wait()
            try:  # a daemon that left the process group may still hold the pipes: do not wait for it
                (out, n_out), (err, n_err) = await asyncio.wait_for(reads, 2.0)
            except TimeoutError:
                (out, n_out), (err, n_err) = (b"", 0), (b"", 0)
        so, cut_o = with_marker(out.decode("utf-8", errors="replace"), n_out, len(out))
        se, cut_e = with_marker(err.decode("utf-8", errors="replace"), n_err, len(err))
        return ExecResult(
            _status(proc.returncode, timed_out, se), so, se, proc.returncode, wall, cut_o or cut_e
        )


async def _exited(proc: asyncio.subprocess.Process, deadline: float) -> bool:
    """Whether the process exited before `deadline`. Not proc.wait(): asyncio's wait also waits for the
    pipes to close, which a background process the snippet started may keep open."""
    while proc.returncode is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def _status(rc: int, timed_out: bool, stderr: str) -> str:
    if timed_out or rc == -signal.SIGXCPU:
        return "timeout"
    if rc == 0:
        return "ok"
    if rc < 0:
        return "killed"
    last = stderr.rstrip().rsplit("\n", 1)[-1]
    return "oom" if "MemoryError" in last else "error"


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, int]:
    """Keep the first `limit` bytes, count (and discard) the rest, so the pipe never blocks the child."""
    kept, total = bytearray(), 0
    while chunk := await stream.read(1 << 16):
        total += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept), total


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
