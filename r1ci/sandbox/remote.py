"""`sandbox=remote`: send snippets to sandbox servers (`python launch.py stage=sandbox_server`).

As in the paper, execution moves to CPU machines. Requests are spread round-robin over cfg.servers; an
infra error, a dropped connection or a dead server sends the request to the next server (up to
cfg.retries more attempts), a busy server (HTTP 503, its queue is full) is retried with backoff for up
to cfg.busy_retry_s. Whatever happens the caller gets exactly one ExecResult, never an exception.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import httpx

from r1ci.config import ConfigError, SandboxConfig
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.result import ExecResult, infra_error

TOKEN_ENV = "R1CI_SANDBOX_TOKEN"
BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


def resolve_token(cfg: SandboxConfig) -> str | None:
    """cfg.token, else $R1CI_SANDBOX_TOKEN, else None (no auth)."""
    return cfg.token or os.environ.get(TOKEN_ENV) or None


class RemoteSandbox(Sandbox):
    def __init__(self, cfg: SandboxConfig) -> None:
        super().__init__(cfg)
        if not cfg.servers:
            raise ConfigError("sandbox.servers: remote sandbox needs at least one server URL")
        self.servers = [s.rstrip("/") for s in cfg.servers]
        token = resolve_token(cfg)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._rr = itertools.count()
        self._client: httpx.AsyncClient | None = None
        self.failovers = 0  # attempts moved to another server after a failure

    async def start(self) -> None:
        if self._client is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
            self._client = httpx.AsyncClient(limits=limits, headers=self._headers, trust_env=False)

    async def close(self) -> None:
        await self._drain_inflight()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _execute(self, code: str, timeout_s: float) -> ExecResult:
        if self._client is None:
            raise RuntimeError("use the sandbox as `async with make_sandbox(cfg) as sb:` (or await start())")
        t0 = time.monotonic()
        busy_until = t0 + self.cfg.busy_retry_s
        first = next(self._rr)
        failures, busy, last = 0, 0, "no attempt"
        for k in itertools.count():
            server = self.servers[(first + k) % len(self.servers)]
            outcome, result = await self._attempt(server, code, timeout_s)
            if outcome == "done":
                return result
            if outcome == "busy":
                busy += 1
                last = f"{server} busy (HTTP 503)"
                if time.monotonic() > busy_until:
                    return infra_error(
                        f"every server stayed busy for {self.cfg.busy_retry_s:.0f} s", _since(t0)
                    )
                await asyncio.sleep(BACKOFF_S[min(busy - 1, len(BACKOFF_S) - 1)])
                continue
            failures += 1
            last = result.stderr if result is not None else f"{server}: {outcome}"
            if failures > self.cfg.retries:
                return infra_error(f"{failures} attempts failed; last: {last}", _since(t0))
            self.failovers += 1
            await asyncio.sleep(BACKOFF_S[min(failures - 1, len(BACKOFF_S) - 1)])
        raise AssertionError("unreachable")

    async def _attempt(self, server: str, code: str, timeout_s: float) -> tuple[str, ExecResult | None]:
        """("done", result) | ("busy", None) | ("failed", infra result or None with a reason as outcome)."""
        assert self._client is not None
        # The server may queue us behind others; a server silent past this is treated as lost.
        read_timeout = timeout_s + self.cfg.kill_grace_s + self.cfg.busy_retry_s
        timeout = httpx.Timeout(connect=5.0, read=read_timeout, write=30.0, pool=None)
        try:
            resp = await self._client.post(
                f"{server}/run", json={"code": code, "timeout_s": timeout_s}, timeout=timeout
            )
        except httpx.HTTPError as e:
            return f"failed ({type(e).__name__}: {e})", None
        if resp.status_code == 503:
            return "busy", None
        if resp.status_code != 200:
            return f"failed (HTTP {resp.status_code}: {resp.text[:200]})", None
        try:
            result = ExecResult.from_dict(resp.json())
        except (ValueError, KeyError, TypeError) as e:
            return f"failed (bad response: {e!r})", None
        if result.status == "infra_error":
            return "failed", result
        return "done", result


def _since(t0: float) -> float:
    return time.monotonic() - t0
