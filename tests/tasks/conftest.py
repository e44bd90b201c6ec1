"""Fixtures for the task tests: run many solver programs in the real sandbox (bubblewrap warm pool).

`run_solver(sources, timeout_s) -> stdouts`: each source runs as a model's code would, in a fresh forked
child of a sandboxed worker; a timeout or crash gives what was printed so far (maybe "").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from r1ci.config import compose
from r1ci.sandbox import make_sandbox


@pytest.fixture(scope="session")
def run_solver() -> Callable[[list[str], float], list[str]]:
    """A session-wide sandbox pool on its own event-loop thread, so sync tests can use it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sandbox = make_sandbox(compose(["sandbox=local", "sandbox.timeout_s=30"]).sandbox)
    asyncio.run_coroutine_threadsafe(sandbox.__aenter__(), loop).result(timeout=120)

    def run(sources: list[str], timeout_s: float = 30.0) -> list[str]:
        async def _all():
            return await asyncio.gather(*(sandbox.run(s, timeout_s=timeout_s) for s in sources))

        results = asyncio.run_coroutine_threadsafe(_all(), loop).result()
        return [r.stdout for r in results]

    yield run
    asyncio.run_coroutine_threadsafe(sandbox.__aexit__(None, None, None), loop).result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
