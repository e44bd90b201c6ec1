"""The Code Interpreter sandbox: run model-written Python safely, fast, and without blocking the loop.

    from r1ci.sandbox import make_sandbox
    async with make_sandbox(cfg.sandbox) as sb:
        res = await sb.run("print(1 + 1)")          # ExecResult(status="ok", stdout="2\\n", ...)
        many = await sb.run_many([code_a, code_b])  # results in order
        sb.counters.as_metrics()                    # per-status counts for W&B

Kinds (cfg.kind): `local` (bubblewrap-jailed warm worker pool, pool.py), `remote` (HTTP client of
`stage=sandbox_server`, remote.py), `unsafe` (bare subprocess, no isolation, unsafe.py). See docs/sandbox.md.
"""

from __future__ import annotations

from omegaconf import DictConfig

from r1ci.config import SandboxConfig
from r1ci.sandbox.base import Sandbox
from r1ci.sandbox.bwrap import SandboxUnavailable
from r1ci.sandbox.pool import LocalSandbox
from r1ci.sandbox.remote import RemoteSandbox
from r1ci.sandbox.result import STATUSES, ExecResult, StatusCounters
from r1ci.sandbox.settings import as_sandbox_config
from r1ci.sandbox.unsafe import UnsafeSandbox

KINDS: dict[str, type[Sandbox]] = {"local": LocalSandbox, "remote": RemoteSandbox, "unsafe": UnsafeSandbox}


def make_sandbox(sandbox_cfg: DictConfig | SandboxConfig | dict) -> Sandbox:
    """Build the sandbox `sandbox_cfg.kind` names (not started: use it as `async with`).

    Raises SandboxUnavailable for `local` without bubblewrap (the message says how to install it).
    """
    cfg = as_sandbox_config(sandbox_cfg)
    return KINDS[cfg.kind](cfg)


__all__ = ["STATUSES", "ExecResult", "Sandbox", "SandboxUnavailable", "StatusCounters", "make_sandbox"]
