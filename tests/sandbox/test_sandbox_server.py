"""The sandbox over HTTP: the real stage (`launch.py stage=sandbox_server`) driven by a `sandbox=remote`
client, plus the server's admission control and the client's failover, on in-process servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx
import pytest
import uvicorn
from sandbox_helpers import free_port, small_config

from r1ci.config import SandboxConfig, compose
from r1ci.sandbox import ExecResult, make_sandbox
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.result import infra_error
from r1ci.sandbox.server import build_app

REPO = Path(__file__).resolve().parents[2]


class FakeSandbox(Sandbox):
    """Answers after `delay` s with `status`, echoing the code: server tests without real workers."""

    def __init__(self, cfg: SandboxConfig, delay: float = 0.0, status: str = "ok") -> None:
        super().__init__(cfg)
        self.delay, self.status = delay, status
        self.executing = asyncio.Event()  # set once a request is being executed (tests wait on it)

    async def _execute(self, code: str, timeout_s: float) -> ExecResult:
        self.executing.set()
        await asyncio.sleep(self.delay)
        if self.status == "infra_error":
            return infra_error("fake sandbox down")
        return ExecResult(self.status, code, "", 0, self.delay, False)


class InProcessServer:
    """uvicorn on a free loopback port, in this event loop."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off")
        )

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def kill(self) -> None:
        """Drop everything at once, in-flight requests included (a crashed server)."""
        self.server.force_exit = self.server.should_exit = True
        for conn in list(self.server.server_state.connections):
            conn.transport.abort()
        await self.task

    async def __aexit__(self, *exc) -> None:
        if not self.task.done():
            await self.kill()


def remote_cfg(*servers: str, **kw) -> SandboxConfig:
    return SandboxConfig(kind="remote", servers=list(servers), timeout_s=5.0, **kw)


@pytest.fixture
def stage_server(tmp_path):
    """`python launch.py stage=sandbox_server` as a subprocess, with a token; yields its URL."""
    port = free_port()
    env = {**os.environ, "R1CI_SANDBOX_TOKEN": "s3cret", "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "launch.py",
            "stage=sandbox_server",
            f"sandbox.port={port}",
            "sandbox.pool_size=2",
            f"paths.root={tmp_path}",
            "logger=none",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
    yield url, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


async def test_stage_server_serves_a_remote_client(stage_server, monkeypatch):
    url, proc = stage_server
    monkeypatch.setenv("R1CI_SANDBOX_TOKEN", "s3cret")
    cfg = compose(["sandbox=remote", f"sandbox.servers=[{url}]", "sandbox.timeout_s=5"])
    async with make_sandbox(cfg.sandbox) as sb:
        ok, err, slow = await sb.run_many(
            ["print(sum(range(10)))", "1/0", "import time; time.sleep(9)"], timeout_s=2.0
        )
        many = await sb.run_many([f"print({i} * {i})" for i in range(40)])
    assert (ok.status, ok.stdout) == ("ok", "45\n")
    assert err.status == "error" and "ZeroDivisionError" in err.stderr
    assert slow.status == "timeout"
    assert [r.stdout for r in many] == [f"{i * i}\n" for i in range(40)]
    # without the token: refused, reported as the sandbox's failure, never as the code's
    monkeypatch.delenv("R1CI_SANDBOX_TOKEN")
    async with make_sandbox(remote_cfg(url, retries=1)) as sb:
        res = await sb.run("print(1)")
    assert res.status == "infra_error" and "401" in res.stderr
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "sandbox server stopped" in out


async def test_server_refuses_beyond_its_queue_with_503():
    cfg = SandboxConfig(pool_size=1, max_queue=1)
    app = build_app(FakeSandbox(cfg, delay=0.5), cfg, token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        replies = await asyncio.gather(*(client.post("/run", json={"code": f"c{i}"}) for i in range(5)))
        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 200, 503, 503, 503]
        assert (await client.post("/run", json={"code": 3})).status_code == 400
        health = (await client.get("/health")).json()
        assert health["rejected"] == 3 and health["pending"] == 0 and health["counters"]["ok"] == 2


async def test_server_requires_the_token_when_set():
    cfg = SandboxConfig(pool_size=1)
    app = build_app(FakeSandbox(cfg), cfg, token="tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/run", json={"code": "x"})).status_code == 401
        bad = await client.post("/run", json={"code": "x"}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        good = await client.post("/run", json={"code": "x"}, headers={"Authorization": "Bearer tok"})
        assert good.status_code == 200 and good.json()["stdout"] == "x"


async def test_client_retries_infra_errors_and_dead_servers_elsewhere():
    cfg = SandboxConfig(pool_size=1)
    dead = f"http://127.0.0.1:{free_port()}"
    async with (
        InProcessServer(build_app(FakeSandbox(cfg, status="infra_error"), cfg, None)) as broken,
        InProcessServer(build_app(FakeSandbox(cfg), cfg, None)) as good,
        make_sandbox(remote_cfg(dead, broken.url, good.url)) as sb,
    ):
        results = await sb.run_many([f"code-{i}" for i in range(12)])
    assert [r.stdout for r in results] == [f"code-{i}" for i in range(12)]
    assert all(r.status == "ok" for r in results)
    assert sb.failovers > 0 and sb.counters["infra_error"] == 0


async def test_client_never_loses_a_request_when_a_server_dies_mid_flight():
    cfg = SandboxConfig(pool_size=8)
    doomed_sandbox = FakeSandbox(cfg, delay=1.0)
    async with (
        InProcessServer(build_app(doomed_sandbox, cfg, None)) as doomed,
        InProcessServer(build_app(FakeSandbox(cfg, delay=0.05), cfg, None)) as survivor,
        make_sandbox(remote_cfg(doomed.url, survivor.url)) as sb,
    ):
        pending = asyncio.create_task(sb.run_many([f"req-{i}" for i in range(10)]))
        await doomed_sandbox.executing.wait()  # requests are in flight on the doomed server
        await doomed.kill()
        results = await pending
    assert [r.stdout for r in results] == [f"req-{i}" for i in range(10)]
    assert all(r.status == "ok" for r in results)


async def test_busy_servers_are_retried_until_they_have_room():
    cfg = SandboxConfig(pool_size=1, max_queue=1)
    async with (
        InProcessServer(build_app(FakeSandbox(cfg, delay=0.1), cfg, None)) as server,
        make_sandbox(remote_cfg(server.url)) as sb,
    ):
        results = await sb.run_many([f"r{i}" for i in range(8)])
    assert [r.stdout for r in results] == [f"r{i}" for i in range(8)]


async def test_remote_needs_a_server():
    with pytest.raises(Exception, match="sandbox.servers"):
        make_sandbox(SandboxConfig(kind="remote"))


async def test_server_with_a_real_pool_in_process():
    cfg = small_config()
    async with (
        make_sandbox(cfg) as local,
        InProcessServer(build_app(local, cfg, None)) as server,
        make_sandbox(remote_cfg(server.url)) as sb,
    ):
        res = await sb.run("import numpy as np; print(int(np.arange(5).sum()))")
    assert (res.status, res.stdout) == ("ok", "10\n")
