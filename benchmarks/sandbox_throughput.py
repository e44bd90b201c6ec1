"""Code-execution throughput and latency: r1ci's sandbox against the baselines, measured in one run.

    .venv/bin/python benchmarks/sandbox_throughput.py            # ~2-3 min; --quick for less

For three snippets (a print, a NumPy computation, a SymPy solve) at concurrency 1, 2 and 16:
  (a) naive    subprocess.run([sys.executable, "-c", code]) per call: what most RL repos do (no isolation)
  (b) bwrap    a cold bubblewrap jail + interpreter per call (same mounts as r1ci's jail)
  (c) pool     r1ci's warm pool, local (sandbox=local, pool size = CPU count)
  (d) http     (c) behind `launch.py stage=sandbox_server` on loopback, through the sandbox=remote client
All four are started first; each (snippet, concurrency) is then measured mode after mode, so that load
from other processes drifting during the run hits every mode alike. Prints executions/s, p50/p99 latency and the ratio to (a); checks the issue's targets; writes a JSON
record to benchmarks/results/. Every result is checked for the expected output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from r1ci.config import SandboxConfig
from r1ci.sandbox import make_sandbox
from r1ci.sandbox.bwrap import CLEAN_ENV, PythonRuntime, find_bwrap, mount_args

REPO = Path(__file__).resolve().parent.parent
SNIPPETS = {
    "print": ('print("hello")', "hello\n"),
    "numpy": (
        (
            "import numpy as np\na = np.random.default_rng(0).random((100, 100))\n"
            "print(round(float(np.linalg.solve(a, a.sum(1)).sum()), 6))"
        ),
        "100.0\n",
    ),
    "sympy": (
        "from sympy import symbols, solve\nx = symbols('x')\nprint(solve(x**2 - 5*x + 6, x))",
        "[2, 3]\n",
    ),
}
CONCURRENCY = (1, 2, 16)
MODES = ("naive", "bwrap", "pool", "http")
Runner = Callable[[str], Awaitable[str]]  # code -> stdout


@dataclass
class Cell:
    mode: str
    snippet: str
    concurrency: int
    n: int
    exec_per_s: float
    p50_ms: float
    p99_ms: float
    wrong: int  # results whose stdout was not the expected one


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def measure(run: Runner, mode: str, name: str, conc: int, budget_s: float, max_n: int) -> Cell:
    """Keep `conc` requests in flight until `budget_s` has passed (each client runs at least once)."""
    code, want = SNIPPETS[name]
    await asyncio.gather(*(run(code) for _ in range(conc if mode in ("pool", "http") else 1)))  # warm-up
    lat: list[float] = []
    wrong = 0
    t0 = time.monotonic()

    async def client() -> None:
        nonlocal wrong
        first = True
        while first or (len(lat) < max_n and time.monotonic() - t0 < budget_s):
            first = False
            t = time.monotonic()
            out = await run(code)
            lat.append(time.monotonic() - t)
            wrong += out != want

    await asyncio.gather(*(client() for _ in range(conc)))
    wall = time.monotonic() - t0
    return Cell(
        mode,
        name,
        conc,
        len(lat),
        len(lat) / wall,
        1000 * percentile(lat, 0.5),
        1000 * percentile(lat, 0.99),
        wrong,
    )


# ---------------------------------------------------------------- the four ways to run code
def naive_run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    ).stdout


def cold_bwrap_argv() -> list[str]:
    """One jail per call: r1ci's namespaces and read-only mounts, no capabilities, a fresh interpreter."""
    runtime = PythonRuntime.current()
    site = ":".join(runtime.mounted_site_dirs())
    return [
        find_bwrap(),
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
        *mount_args(runtime),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--remount-ro",
        "/",
        "--cap-drop",
        "ALL",
        "--setenv",
        "PYTHONPATH",
        site,
        "--chdir",
        "/tmp",
        runtime.executable,
        "-s",
        "-c",
    ]


def bwrap_run(argv: list[str], code: str) -> str:
    return subprocess.run(
        [*argv, code], capture_output=True, text=True, timeout=60, env=CLEAN_ENV, check=False
    ).stdout


def threaded(fn: Callable[[str], str], pool: ThreadPoolExecutor) -> Runner:
    async def run(code: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, code)

    return run


def sandbox_runner(sb) -> Runner:
    async def run(code: str) -> str:
        res = await sb.run(code)
        return res.stdout if res.status == "ok" else f"[{res.status}] {res.stderr}"

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, out_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "launch.py",
            "stage=sandbox_server",
            f"sandbox.port={port}",
            f"paths.root={out_dir}",
            "logger=none",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:  # the stage prints this once its pool is warm and the port is bound
        if "sandbox server ready" in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining its log
            return proc
    raise RuntimeError(f"sandbox server did not start (exit {proc.wait()})")


# ---------------------------------------------------------------- driver
@contextlib.asynccontextmanager
async def runners(tmp: Path, health: dict):
    """All four ways to run code, started once. The cells are then measured mode after mode for each
    (snippet, concurrency), so that a change in the machine's load hits every mode alike."""
    port = free_port()
    server = start_server(port, tmp)
    remote = SandboxConfig(kind="remote", servers=[f"http://127.0.0.1:{port}"])
    argv = cold_bwrap_argv()
    try:
        with ThreadPoolExecutor(max(CONCURRENCY)) as threads:
            async with make_sandbox(SandboxConfig(kind="local")) as pool, make_sandbox(remote) as http:
                yield {
                    "naive": threaded(naive_run, threads),
                    "bwrap": threaded(lambda code: bwrap_run(argv, code), threads),
                    "pool": sandbox_runner(pool),
                    "http": sandbox_runner(http),
                }
                health.update(
                    pool_counters=dict(pool.counters),
                    pool_restarts=pool.restarts,
                    http_counters=dict(http.counters),
                    http_failovers=http.failovers,
                )
    finally:
        server.terminate()
        server.wait(30)


async def sweep(args, tmp: Path, health: dict) -> list[Cell]:
    cells = []
    async with runners(tmp, health) as run:
        for name in SNIPPETS:
            for conc in CONCURRENCY:
                for mode in MODES:
                    cell = await measure(run[mode], mode, name, conc, args.budget, args.max_n)
                    print(
                        f"  {name:6s} c={conc:<3d} {mode:6s} {cell.exec_per_s:8.1f}/s p50 {cell.p50_ms:7.1f} ms",
                        flush=True,
                    )
                    cells.append(cell)
    return cells


def table(cells: list[Cell]) -> str:
    base = {(c.snippet, c.concurrency): c.exec_per_s for c in cells if c.mode == "naive"}
    lines = [
        (
            f"{'mode':6s} {'snippet':7s} {'conc':>4s} {'n':>5s} {'exec/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} "
            f"{'x naive':>8s} {'wrong':>5s}"
        )
    ]
    for c in sorted(
        cells, key=lambda c: (list(SNIPPETS).index(c.snippet), c.concurrency, MODES.index(c.mode))
    ):
        ratio = c.exec_per_s / base[(c.snippet, c.concurrency)] if (c.snippet, c.concurrency) in base else 0
        lines.append(
            f"{c.mode:6s} {c.snippet:7s} {c.concurrency:4d} {c.n:5d} {c.exec_per_s:9.1f} {c.p50_ms:8.1f} "
            f"{c.p99_ms:8.1f} {ratio:8.1f} {c.wrong:5d}"
        )
    return "\n".join(lines)


def targets(cells: list[Cell]) -> dict[str, dict]:
    get = {(c.mode, c.snippet, c.concurrency): c for c in cells}
    out = {}
    for conc in CONCURRENCY:
        pool, naive, http = (get[(m, "numpy", conc)] for m in ("pool", "naive", "http"))
        out[f"pool >= 20x naive exec/s on numpy, c={conc}"] = {
            "value": round(pool.exec_per_s / naive.exec_per_s, 1),
            "met": pool.exec_per_s >= 20 * naive.exec_per_s,
        }
        out[f"http within 2x of pool (numpy exec/s), c={conc}"] = {
            "value": round(pool.exec_per_s / http.exec_per_s, 2),
            "met": http.exec_per_s * 2 >= pool.exec_per_s,
        }
    p50 = get[("pool", "print", 1)].p50_ms
    out["pool p50 < 15 ms on print, c=1"] = {"value": round(p50, 1), "met": p50 < 15}
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=2.0, help="seconds per (mode, snippet, concurrency) cell")
    ap.add_argument("--max-n", type=int, default=2000, help="at most this many executions per cell")
    ap.add_argument("--quick", action="store_true", help="1 s per cell (about half the time)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    if args.quick:
        args.budget = 1.0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:  # the server stage's Hydra output dir
        health: dict = {}
        cells = await sweep(args, Path(tmp), health)
    print("\n" + table(cells))
    checks = targets(cells)
    print(f"\nsandbox health: {health}\n")
    for name, res in checks.items():
        print(f"{'MET ' if res['met'] else 'MISS'}  {name}: {res['value']}")
    record = {
        "benchmark": "sandbox_throughput",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "budget_s": args.budget,
        "cells": [asdict(c) for c in cells],
        "sandbox_health": health,
        "targets": checks,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sandbox_throughput-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"\nrecord: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    asyncio.run(main())
