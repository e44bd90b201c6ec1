"""The local sandbox: a warm pool of bubblewrap'd zygote workers, one snippet per worker at a time.

Forking a child off a worker that has already imported numpy/sympy costs a few ms, where starting a
fresh interpreter costs ~160 ms (stack-notes.md). Dead, hung or confused workers are replaced in the
background; a request whose worker died *before* receiving it is retried on another worker, one whose
worker died *while* running it returns `infra_error` (counted, never shown to the reward as `error`).
Each worker's processes share a memory cgroup (cgroup.py) where the host allows it. See docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from collections import deque

from r1ci.config import SandboxConfig
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.bwrap import (
    CLEAN_ENV,
    PythonRuntime,
    SandboxUnavailable,
    bwrap_argv,
    find_bwrap,
    passwd_files,
)
from r1ci.sandbox.cgroup import MemoryCgroup, jail_prefix
from r1ci.sandbox.result import ExecResult, infra_error, with_marker
from r1ci.sandbox.settings import pool_size, zygote_settings
from r1ci.sandbox.uids import UidLease
from r1ci.sandbox.worker import Worker, WorkerLost

log = logging.getLogger(__name__)
CGROUP_HEADROOM_MB = 512  # the zygote's own footprint (numpy + sympy, ~150 MB) and the jail's tmpfs
UNDELIVERED_RETRIES = 3  # a request no worker received yet is safe to resend
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class LocalSandbox(Sandbox):
    def __init__(self, cfg: SandboxConfig) -> None:
        super().__init__(cfg)
        self.size = pool_size(cfg)
        self._bwrap = find_bwrap()
        self._runtime = PythonRuntime.current()
        self._slots: list[Worker | None] = [None] * self.size
        self._idle: deque[Worker] = deque()
        self._cond = asyncio.Condition()
        self._broken: set[int] = set()  # slots whose last start failed
        self._tasks: set[asyncio.Task] = set()  # restarts and watchers
        self._ids = itertools.count()
        self._started = self._closed = False
        self.restarts = 0  # workers replaced after dying or hanging
        self._cgroups: list[MemoryCgroup | None] = [None] * self.size
        self._uids: UidLease | None = None  # leased in start(): see uids.py

    @property
    def uids(self) -> list[int]:
        """The uid each slot's snippets run as (distinct from every other pool's on this host)."""
        return self._uids.uids if self._uids is not None else []

    @property
    def workers(self) -> list[Worker]:
        """The live workers (tests kill these to check recovery)."""
        return [w for w in self._slots if w is not None and w.alive]

    def _new_worker(self, slot: int) -> Worker:
        uid = self.uids[slot]
        settings = json.dumps(zygote_settings(self.cfg, uid, self._runtime.mounted_site_dirs()))
        prefix = jail_prefix(self._cgroups[slot])

        def build(data_fds: dict[str, int]) -> list[str]:
            return prefix + bwrap_argv(self._bwrap, self._runtime, settings, data_fds)

        return Worker(slot, build, dict(CLEAN_ENV), passwd_files(uid))

    def _make_cgroups(self) -> None:
        if not self.cfg.memory_cgroup:
            return
        limit = (self.cfg.memory_mb + CGROUP_HEADROOM_MB) << 20
        self._cgroups = [MemoryCgroup.create(f"{os.getpid()}-w{i}", limit) for i in range(self.size)]
        if None in self._cgroups:
            log.warning(
                "sandbox: no writable memory cgroup here; each process is still capped at "
                "memory_mb (RLIMIT_AS) but not all of an execution's processes together"
            )

    async def start(self) -> None:
        """Start every worker; fail loudly if none can start (e.g. bubblewrap cannot create namespaces)."""
        if self._started:
            return
        self._uids = UidLease(self.cfg.uid_base, self.size)  # before _started: a failed lease can be retried
        self._started = True
        self._make_cgroups()
        errors = await asyncio.gather(*(self._start_slot(i) for i in range(self.size)))
        failed = [e for e in errors if e is not None]
        if len(failed) == self.size:
            await self.close()
            raise SandboxUnavailable(f"no sandbox worker could start: {failed[0]}")
        for slot, err in enumerate(errors):
            if err is not None:
                log.error("sandbox worker %d failed to start, retrying in background: %s", slot, err)
                self._spawn_restart(slot)

    async def _start_slot(self, slot: int) -> str | None:
        worker = self._new_worker(slot)
        try:
            await worker.start(self.cfg.start_timeout_s)
        except (WorkerLost, OSError) as e:
            self._broken.add(slot)
            return str(e)
        if worker.failed_imports and slot == 0:
            log.warning("sandbox: these preimport modules failed to import: %s", worker.failed_imports)
        async with self._cond:
            if self._closed:
                await worker.kill()
                return "closed"
            self._broken.discard(slot)
            self._slots[slot] = worker
            self._idle.append(worker)
            self._cond.notify()
        self._track(asyncio.create_task(self._watch(worker)))
        return None

    async def _watch(self, worker: Worker) -> None:
        """Replace a worker that dies while idle (a busy one is replaced by the request that sees it die)."""
        await worker.wait_exit()
        async with self._cond:
            if self._closed or worker.retired or worker not in self._idle:
                return
            self._idle.remove(worker)
        log.warning("sandbox worker %d died while idle; replacing it", worker.slot)
        self._retire(worker)

    def _retire(self, worker: Worker) -> None:
        if not worker.retired:
            worker.retired = True
            self._spawn_restart(worker.slot)

    def _track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_restart(self, slot: int) -> None:
        self._track(asyncio.create_task(self._restart(slot)))

    async def _restart(self, slot: int) -> None:
        """Replace a slot's worker, backing off while starts keep failing (the pool stays usable)."""
        old = self._slots[slot]
        self._slots[slot] = None
        if old is not None:
            old.retired = True
            await old.kill()
        self.restarts += 1
        for attempt in itertools.count():
            if self._closed:
                return
            err = await self._start_slot(slot)
            if err is None or self._closed:
                return
            log.error("sandbox worker %d restart failed (attempt %d): %s", slot, attempt + 1, err)
            async with self._cond:
                self._cond.notify_all()  # waiters re-check whether every slot is broken
            await asyncio.sleep(RESTART_BACKOFF_S[min(attempt, len(RESTART_BACKOFF_S) - 1)])

    async def _acquire(self) -> Worker | None:
        """An idle worker, or None when the pool is closed or every slot has failed to start."""
        async with self._cond:
            await self._cond.wait_for(lambda: self._idle or self._closed or len(self._broken) == self.size)
            if self._closed or not self._idle:
                return None
            return self._idle.popleft()

    async def _release(self, worker: Worker) -> None:
        if not worker.alive:  # died right after answering: replace it instead of queueing a corpse
            self._retire(worker)
            return
        async with self._cond:
            if self._closed:
                return
            self._idle.append(worker)
            self._cond.notify()

    async def _execute(self, code: str, timeout_s: float) -> ExecResult:
        if not self._started:
            raise RuntimeError("use the sandbox as `async with make_sandbox(cfg) as sb:` (or await start())")
        t0 = time.monotonic()
        for _ in range(UNDELIVERED_RETRIES + 1):
            worker = await self._acquire()
            if worker is None:
                reason = "sandbox closed" if self._closed else "no sandbox worker can start"
                return infra_error(reason, time.monotonic() - t0)
            group = self._cgroups[worker.slot]
            ooms = group.oom_kills() if group is not None else 0
            try:
                raw = await worker.execute(next(self._ids), code, timeout_s, self.cfg.kill_grace_s)
            except WorkerLost as e:
                log.warning("sandbox: %s; replacing it", e)
                self._retire(worker)
                if e.delivered:
                    return infra_error(str(e), time.monotonic() - t0)
                continue
            await self._release(worker)
            if group is not None and raw["status"] in ("killed", "error") and group.oom_kills() > ooms:
                raw["status"] = "oom"  # the cgroup's OOM killer ended (part of) this execution
            return self._to_result(raw)
        return infra_error("workers kept dying before receiving the request", time.monotonic() - t0)

    def _to_result(self, raw: dict) -> ExecResult:
        limit = self.cfg.max_output_bytes
        out, cut_out = with_marker(raw["stdout"], raw["stdout_bytes"], min(raw["stdout_bytes"], limit))
        err, cut_err = with_marker(raw["stderr"], raw["stderr_bytes"], min(raw["stderr_bytes"], limit))
        return ExecResult(raw["status"], out, err, raw["exit_code"], float(raw["wall_s"]), cut_out or cut_err)

    async def close(self) -> None:
        async with self._cond:
            self._closed = True
            self._cond.notify_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.gather(*(w.kill() for w in self._slots if w is not None), return_exceptions=True)
        await self._drain_inflight()
        await asyncio.gather(*(g.remove() for g in self._cgroups if g is not None))
        if self._uids is not None:
            self._uids.release()  # after every worker is gone: no snippet still runs as these uids
