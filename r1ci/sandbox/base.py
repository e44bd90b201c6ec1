"""The Sandbox interface every kind (local pool, remote client, unsafe) implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Self

from r1ci.config import SandboxConfig
from r1ci.sandbox.result import ExecResult, StatusCounters, infra_error


class Sandbox(ABC):
    """Async context manager: `async with make_sandbox(cfg) as sb: res = await sb.run(code)`.

    Every call returns exactly one ExecResult and never raises for anything the code does; sandbox
    failures come back as status `infra_error`. `counters` counts results per status (W&B, alarms).
    """

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.counters = StatusCounters()
        self._inflight: set[asyncio.Task] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Acquire resources (workers, connections). Idempotent."""

    async def close(self) -> None:
        """Release resources; executions still running finish as infra errors."""

    async def run(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        """Run one snippet as `python -c code` would, within the limits; timeout_s defaults to cfg.timeout_s.

        The execution is shielded: cancelling the caller does not leave a worker half-way through a
        request; the result is still counted and the worker goes back to the pool.
        """
        timeout = float(timeout_s if timeout_s is not None else self.cfg.timeout_s)
        if timeout <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout}")
        task = asyncio.ensure_future(self._counted(code, timeout))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def run_many(self, codes: Iterable[str], *, timeout_s: float | None = None) -> list[ExecResult]:
        """Run snippets concurrently; results in the order of `codes`."""
        return list(await asyncio.gather(*(self.run(c, timeout_s=timeout_s) for c in codes)))

    async def _counted(self, code: str, timeout_s: float) -> ExecResult:
        try:
            result = await self._execute(code, timeout_s)
        except Exception as e:  # noqa: BLE001 - a bug in the sandbox is still the sandbox's failure
            result = infra_error(f"unexpected sandbox failure: {e!r}")
        return self.counters.record(result)

    @abstractmethod
    async def _execute(self, code: str, timeout_s: float) -> ExecResult:
        """Run one snippet; return its result (infra_error when the sandbox itself failed)."""

    async def _drain_inflight(self) -> None:
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
