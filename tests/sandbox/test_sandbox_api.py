"""The Sandbox contract others rely on: construction, results, ordering, counters, async behaviour,
recovery from dead or hung workers, and the clear errors when the local sandbox cannot run."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from sandbox_helpers import named, running, small_config, zygote_pid

from r1ci.config import ConfigError, SandboxConfig, compose
from r1ci.sandbox import STATUSES, ExecResult, SandboxUnavailable, make_sandbox


async def test_compose_and_run_through_the_public_api():
    cfg = compose(["sandbox=local", "sandbox.timeout_s=5", "sandbox.pool_size=1"])
    async with make_sandbox(cfg.sandbox) as sb:
        res = await sb.run("print(6 * 7)")
    assert res == ExecResult("ok", "42\n", "", 0, res.wall_s, False)
    assert res.wall_s > 0


@pytest.mark.parametrize("form", ["dataclass", "dict"])
async def test_accepts_dataclass_and_dict(form):
    cfg = small_config(pool_size=1)
    arg = cfg if form == "dataclass" else {"pool_size": 1, "timeout_s": 2.0}
    async with make_sandbox(arg) as sb:
        assert (await sb.run("print('x')")).stdout == "x\n"


def test_bad_values_fail_naming_the_key():
    with pytest.raises(ConfigError, match="sandbox.uid_base"):
        SandboxConfig(uid_base=0)
    with pytest.raises(ConfigError, match="sandbox.kill_grace_s"):
        SandboxConfig(kill_grace_s=0)
    with pytest.raises(KeyError, match="tiemout_s"):
        make_sandbox({"tiemout_s": 3})


async def test_results_keep_request_order_and_counters_count_every_status():
    async with make_sandbox(small_config()) as sb:
        codes = [f"import time; time.sleep({(9 - i) * 0.01}); print({i})" for i in range(10)]
        codes += ["1/0", "import time; time.sleep(30)", "x = bytearray(10**11)", "import os; os.abort()"]
        results = await sb.run_many(codes, timeout_s=3.0)
        assert [r.stdout for r in results[:10]] == [f"{i}\n" for i in range(10)]
        assert [r.status for r in results[10:]] == ["error", "timeout", "oom", "killed"]
        assert dict(sb.counters) == {
            "ok": 10,
            "error": 1,
            "timeout": 1,
            "oom": 1,
            "killed": 1,
            "infra_error": 0,
        }
        metrics = sb.counters.as_metrics()
        assert set(metrics) == {f"sandbox/{s}" for s in STATUSES} | {"sandbox/total"}
        assert metrics["sandbox/total"] == 14


async def test_a_running_snippet_never_blocks_the_event_loop():
    """Two snippets on two workers run side by side, and the event loop keeps running while they do.
    Proven by ordering on one clock (the host's wall clock, which the snippets share), not by durations:
    the two execution windows overlap, and the loop ticked inside their common window."""
    async with make_sandbox(small_config()) as sb:
        ticks, stop = [], asyncio.Event()

        async def ticker():
            while not stop.is_set():
                ticks.append(time.time())
                await asyncio.sleep(0.01)

        tick = asyncio.create_task(ticker())
        code = "import time\nstart = time.time()\ntime.sleep(1)\nprint(start, time.time())"
        results = await sb.run_many([code] * 2)
        stop.set()
        await tick
    (s0, e0), (s1, e1) = [map(float, r.stdout.split()) for r in results]
    both_running = (max(s0, s1), min(e0, e1))
    assert both_running[0] < both_running[1], "the two snippets ran one after the other"
    assert sum(both_running[0] < t < both_running[1] for t in ticks) >= 2, "the event loop stalled"


async def test_cancelled_caller_does_not_break_the_pool():
    async with make_sandbox(small_config(pool_size=1)) as sb:
        task = asyncio.create_task(sb.run(named("import time; time.sleep(0.5); print('late')", "r1cicancel")))
        await running("r1cicancel")  # cancel while the snippet runs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        res = await sb.run("print('next')")  # waits for the cancelled run's worker, then reuses it
        assert res.stdout == "next\n"
        assert sb.counters["ok"] == 2 and sb.restarts == 0


async def test_worker_killed_between_requests_is_replaced_without_an_error():
    async with make_sandbox(small_config(pool_size=1)) as sb:
        assert (await sb.run("print(1)")).status == "ok"
        dead = sb.workers[0]
        os.kill(dead.pid, signal.SIGKILL)
        while dead.alive:  # until the pool has reaped it (idle: its watcher replaces it)
            await asyncio.sleep(0.01)
        res = await sb.run("print(2)")
        assert res.stdout == "2\n", res
        assert sb.restarts == 1 and sb.counters["infra_error"] == 0


async def test_worker_killed_mid_execution_is_an_infra_error_and_is_replaced():
    async with make_sandbox(small_config(pool_size=1)) as sb:
        pid = sb.workers[0].pid
        task = asyncio.create_task(sb.run(named("import time; time.sleep(3)", "r1cimidrun")))
        await running("r1cimidrun")  # kill it mid-execution, not before the request is delivered
        os.kill(pid, signal.SIGKILL)
        res = await task
        assert res.status == "infra_error" and res.exit_code is None, res
        assert sb.counters["infra_error"] == 1
        assert (await sb.run("print('back')")).stdout == "back\n"
        assert sb.restarts == 1


async def test_hung_worker_is_detected_and_replaced():
    async with make_sandbox(small_config(pool_size=1, kill_grace_s=1.0)) as sb:
        os.kill(zygote_pid(sb.workers[0].pid), signal.SIGSTOP)
        res = await sb.run("print('never')", timeout_s=1.0)
        assert res.status == "infra_error" and "hung" in res.stderr, res
        assert (await sb.run("print('fresh')")).stdout == "fresh\n"
        assert sb.restarts == 1


async def test_failed_preimport_warns_but_the_pool_runs(caplog):
    async with make_sandbox(small_config(pool_size=1, preimport=["math", "no_such_module_r1ci"])) as sb:
        assert (await sb.run("import math; print(math.pi > 3)")).stdout == "True\n"
    assert "no_such_module_r1ci" in caplog.text


def test_missing_bubblewrap_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        make_sandbox(small_config())


def test_non_root_is_told_what_to_do(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable, match="root"):
        make_sandbox(small_config())


async def test_a_child_that_fails_its_setup_is_an_infra_error_not_the_codes_fault():
    # RLIMIT_CPU cannot hold 2**63: every child's setup fails, the zygote itself is fine
    async with make_sandbox(small_config(pool_size=1, cpu_s=2**63 - 1)) as sb:
        res = await sb.run("print('never runs')")
        assert res.status == "infra_error" and "setup failed" in res.stderr, res
        assert sb.counters["infra_error"] == 1 and sb.restarts == 0


async def test_scientific_stack_works_under_the_limits():
    code = (
        "import numpy as np, sympy\n"
        "a = np.random.default_rng(1).random((300, 300))\n"
        "print(np.linalg.eigvalsh(a + a.T).shape, np.linalg.solve(a, a @ np.ones(300)).round(6).max())\n"
        "x = sympy.Symbol('x')\nprint(sympy.integrate(sympy.sin(x) ** 2, (x, 0, sympy.pi)))\n"
        "open('helper.py', 'w').write('K = 7')\nimport helper\nprint(helper.K)"
    )
    async with make_sandbox(small_config(pool_size=1)) as sb:
        res = await sb.run(code, timeout_s=20)
    assert (res.status, res.stdout) == ("ok", "(300,) 1.0\npi/2\n7\n"), res
