"""Load: 2,000 executions at concurrency 32 while a worker is killed at random every ~100 executions.

Every request must get exactly one result, each result must belong to its request (the snippet prints a
per-request token), and the executions that died with their worker must come back as counted
`infra_error`s, never as `error` or as someone else's output.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal

import pytest
from sandbox_helpers import small_config

from r1ci.sandbox import make_sandbox
from r1ci.sandbox.settings import pool_size

N_REQUESTS, CONCURRENCY, KILL_EVERY = 2000, 32, 100


def snippet(i: int) -> str:
    # Mixed shapes: plain prints, numpy, short sleeps, so results finish out of order.
    kind = i % 4
    if kind == 0:
        return f"print('req-{i}')"
    if kind == 1:
        return f"import numpy as np\nprint('req-{i}', int(np.arange({i % 50}).sum()))"
    if kind == 2:
        return f"import time\ntime.sleep({(i % 7) * 0.002})\nprint('req-{i}')"
    return f"import random\nrandom.random()\nprint('req-{i}', {i} * {i})"


def expected(i: int) -> str:
    kind = i % 4
    if kind == 1:
        return f"req-{i} {sum(range(i % 50))}\n"
    if kind == 3:
        return f"req-{i} {i * i}\n"
    return f"req-{i}\n"


@pytest.mark.slow
async def test_load_with_random_worker_kills():
    cfg = small_config(pool_size=0, timeout_s=20.0)  # pool size: the CPU count, as by default
    rng = random.Random(0)
    results: dict[int, object] = {}
    kills = 0
    async with make_sandbox(cfg) as sb:
        assert sb.size == pool_size(cfg)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(N_REQUESTS):
            queue.put_nowait(i)

        async def client() -> None:
            nonlocal kills
            while not queue.empty():
                i = queue.get_nowait()
                res = await sb.run(snippet(i))
                assert i not in results, f"request {i} answered twice"
                results[i] = res
                if len(results) % KILL_EVERY == 0 and sb.workers:
                    os.kill(rng.choice(sb.workers).pid, signal.SIGKILL)
                    kills += 1

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        counters = dict(sb.counters)
        # the pool heals: every killed worker is replaced, and then every request works again
        for _ in range(600):
            if sb.restarts >= kills and len(sb.workers) == sb.size:
                break
            await asyncio.sleep(0.1)
        restarts = sb.restarts
        after = await sb.run_many([snippet(i) for i in range(sb.size * 2)])
        assert [r.stdout for r in after] == [expected(i) for i in range(sb.size * 2)]

    assert sorted(results) == list(range(N_REQUESTS)), "exactly one result per request"
    infra = [i for i, r in results.items() if r.status == "infra_error"]
    for i, r in results.items():
        if r.status != "infra_error":
            assert (r.status, r.stdout) == ("ok", expected(i)), (i, r)
        else:
            assert r.stdout == "" and r.exit_code is None, (i, r)
    assert counters["infra_error"] == len(infra), "infra errors are counted, not hidden"
    assert counters["ok"] == N_REQUESTS - len(infra)
    assert sum(counters.values()) == N_REQUESTS
    assert kills >= N_REQUESTS // KILL_EVERY - 1
    assert len(infra) <= kills, "only executions whose worker was killed under them may fail"
    assert restarts >= kills
