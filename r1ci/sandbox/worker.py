"""Host side of one warm worker: spawn the jailed zygote, send it snippets, read back results.

All I/O is asyncio pipes, so a snippet running for a minute never blocks the event loop that keeps the
other rollouts generating. A worker that dies, answers out of turn or goes silent is not repaired: the
pool kills it and starts a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
STDERR_TAIL_LINES = 40


class WorkerLost(Exception):
    """The worker died or misbehaved. `delivered`: whether the snippet may have started running."""

    def __init__(self, message: str, delivered: bool) -> None:
        super().__init__(message)
        self.delivered = delivered


class Worker:
    """One bubblewrap'd zygote process speaking length-prefixed JSON over its stdin/stdout."""

    def __init__(
        self,
        slot: int,
        build_argv: Callable[[dict[str, int]], list[str]],
        env: dict[str, str],
        data: dict[str, str],
    ) -> None:
        """build_argv maps {in-jail path: fd} for the `data` files to the command line (bwrap.bwrap_argv)."""
        self.slot = slot
        self._build_argv, self._env, self._data = build_argv, env, data
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task: asyncio.Task | None = None
        self.executions = 0
        self.failed_imports: list[str] = []
        self.retired = False  # set by whoever first decides to replace this worker

    @property
    def pid(self) -> int | None:
        """pid of the outer bwrap process (killing it tears the whole jail down: --die-with-parent)."""
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def start(self, timeout_s: float) -> None:
        """Spawn the jail and wait for the zygote's hello (its imports done); raise WorkerLost on failure."""
        fds = {dest: _memfd(dest, text) for dest, text in self._data.items()}
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._build_argv(fds),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                pass_fds=tuple(fds.values()),
            )
        finally:
            for fd in fds.values():
                os.close(fd)
        self._stderr_task = asyncio.create_task(self._read_stderr())
        try:
            hello = await asyncio.wait_for(self._recv(), timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            await self.kill()
            raise WorkerLost(
                f"worker {self.slot} failed to start ({e!r}): {self.stderr_tail()}", False
            ) from e
        except BaseException:  # cancelled (pool closing): leave no jail behind
            await asyncio.shield(self.kill())
            raise
        self.failed_imports = list(hello["failed_imports"])

    async def execute(self, req_id: int, code: str, timeout_s: float, grace_s: float) -> dict[str, Any]:
        """Run one snippet: the zygote enforces timeout_s; after timeout_s + grace_s the worker is hung."""
        if not self.alive:
            raise WorkerLost(f"worker {self.slot} is dead", delivered=False)
        assert self._proc is not None and self._proc.stdin is not None
        body = json.dumps({"id": req_id, "code": code, "timeout_s": timeout_s}).encode()
        try:
            self._proc.stdin.write(struct.pack(">I", len(body)) + body)
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as e:
            raise WorkerLost(f"worker {self.slot} closed its input: {e!r}", delivered=False) from e
        try:
            res = await asyncio.wait_for(self._recv(), timeout_s + grace_s)
        except TimeoutError as e:
            raise WorkerLost(
                f"worker {self.slot} hung: no answer {grace_s:.0f} s past the timeout", True
            ) from e
        except (asyncio.IncompleteReadError, ValueError) as e:
            raise WorkerLost(
                f"worker {self.slot} died mid-execution ({e!r}): {self.stderr_tail()}", True
            ) from e
        if res.get("id") != req_id:
            raise WorkerLost(f"worker {self.slot} answered request {res.get('id')} for {req_id}", True)
        self.executions += 1
        return res

    async def _recv(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        head = await self._proc.stdout.readexactly(4)
        body = await self._proc.stdout.readexactly(struct.unpack(">I", head)[0])
        return json.loads(body)

    async def _read_stderr(self) -> None:
        """The zygote's own diagnostics (never the snippets'): keep a tail for error messages."""
        assert self._proc is not None and self._proc.stderr is not None
        while line := await self._proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self._stderr_tail.append(text)
            log.debug("sandbox worker %d: %s", self.slot, text)

    async def wait_exit(self) -> None:
        """Return when the jail has exited (for whatever reason)."""
        assert self._proc is not None
        await self._proc.wait()

    async def kill(self) -> None:
        """SIGKILL the jail (no-op if already gone) and collect the process."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        if proc.stdin is not None:
            proc.stdin.close()
        await proc.wait()
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(self._stderr_task, 2.0)
            except (TimeoutError, asyncio.CancelledError):
                self._stderr_task.cancel()


def _memfd(name: str, text: str) -> int:
    """An in-memory file bwrap copies into the jail (--ro-bind-data); no host temp file to clean up."""
    fd = os.memfd_create(os.path.basename(name), 0)
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
