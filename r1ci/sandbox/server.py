"""The sandbox over HTTP (Starlette app, served by uvicorn) for `stage=sandbox_server`.

    POST /run      {"code": str, "timeout_s": float | null} -> ExecResult as JSON
    GET  /health   {"ok": true, "pending": n, "capacity": n, "counters": {...}}

Back-pressure: at most pool size + cfg.max_queue requests are admitted at once; the rest get HTTP 503
at once (the client retries elsewhere or later) instead of piling up unboundedly. With a token set
(cfg.token or $R1CI_SANDBOX_TOKEN) every request must carry `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from r1ci.config import ConfigError, SandboxConfig
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.remote import resolve_token
from r1ci.sandbox.settings import pool_size

log = logging.getLogger(__name__)
MAX_CODE_BYTES = 1 << 20  # a snippet larger than 1 MiB is a client bug, not a program


class Admission:
    """Counts admitted requests; refuses beyond capacity (the bounded queue)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.pending, self.rejected = capacity, 0, 0

    def try_enter(self) -> bool:
        if self.pending >= self.capacity:
            self.rejected += 1
            return False
        self.pending += 1
        return True

    def leave(self) -> None:
        self.pending -= 1


def build_app(sandbox: Sandbox, cfg: SandboxConfig, token: str | None) -> Starlette:
    """The ASGI app around an already started sandbox."""
    admission = Admission(pool_size(cfg) + cfg.max_queue)

    def authorized(request: Request) -> bool:
        if not token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    async def run(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        try:
            body = await request.json()
            code, timeout_s = body["code"], body.get("timeout_s")
            if not isinstance(code, str) or len(code) > MAX_CODE_BYTES:
                raise ValueError("code must be a string under 1 MiB")
            timeout = None if timeout_s is None else float(timeout_s)
            if timeout is not None and timeout <= 0:
                raise ValueError("timeout_s must be > 0")
        except (ValueError, KeyError, TypeError) as e:
            return JSONResponse({"error": f"bad request: {e}"}, status_code=400)
        if not admission.try_enter():
            return JSONResponse({"error": "queue full"}, status_code=503, headers={"Retry-After": "1"})
        try:
            result = await sandbox.run(code, timeout_s=timeout)
        finally:
            admission.leave()
        return JSONResponse(result.to_dict())

    async def health(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        return JSONResponse(
            {
                "ok": True,
                "pending": admission.pending,
                "capacity": admission.capacity,
                "rejected": admission.rejected,
                "counters": dict(sandbox.counters),
            }
        )

    return Starlette(routes=[Route("/run", run, methods=["POST"]), Route("/health", health, methods=["GET"])])


def check_exposure(cfg: SandboxConfig, token: str | None) -> None:
    """Binding beyond loopback without a token lets anyone who reaches the port run code: say so loudly."""
    try:
        loopback = ipaddress.ip_address(cfg.host).is_loopback
    except ValueError:
        loopback = cfg.host == "localhost"
    if not loopback and not token:
        log.warning(
            "sandbox_server binds %s WITHOUT a token: anyone reaching port %d can run code. Set "
            "sandbox.token or $R1CI_SANDBOX_TOKEN.",
            cfg.host,
            cfg.port,
        )


async def serve(cfg: SandboxConfig, started: asyncio.Event | None = None) -> dict:
    """Start the backing sandbox, serve until SIGINT/SIGTERM, return the final counters."""
    from r1ci.sandbox import make_sandbox

    if cfg.kind == "remote":
        raise ConfigError(
            "sandbox.kind: the server runs code itself; use sandbox=local (or unsafe), not remote"
        )
    token = resolve_token(cfg)
    check_exposure(cfg, token)
    async with make_sandbox(cfg) as sandbox:
        app = build_app(sandbox, cfg, token)
        config = uvicorn.Config(
            app,
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            backlog=2048,
        )
        server = uvicorn.Server(config)
        # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown; no-op handlers let the stage
        # return its counters and exit 0 instead of dying of the signal.
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            log.info(
                "sandbox server on http://%s:%d (%s, %d workers)",
                cfg.host,
                cfg.port,
                cfg.kind,
                pool_size(cfg),
            )
            print(f"r1ci sandbox server ready on http://{cfg.host}:{cfg.port}", flush=True)
            if started is not None:
                started.set()
        try:
            await task
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return dict(sandbox.counters)
