"""Fixtures for the task tests: run many solver programs, each in a fresh Python interpreter.

`run_solver(sources, timeout_s) -> stdouts` is kept this simple on purpose: it will later be swapped
for the sandbox pool (r1ci.sandbox) without touching the tests that use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

_WORKERS = max(2, min(8, os.cpu_count() or 2))


def _run_one(source: str, timeout_s: float) -> str:
    """Stdout of `python -I -c source`; a timeout or crash gives what was printed so far (maybe "")."""
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", source], capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        return out.decode(errors="replace") if isinstance(out, bytes) else out
    return proc.stdout


@pytest.fixture(scope="session")
def run_solver() -> Callable[[list[str], float], list[str]]:
    """Run each source in a fresh interpreter, in parallel (threads drive the subprocesses)."""

    def run(sources: list[str], timeout_s: float = 30.0) -> list[str]:
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            return list(pool.map(lambda s: _run_one(s, timeout_s), sources))

    return run
