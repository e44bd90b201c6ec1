"""Stage `sandbox_server`: serve the sandbox over HTTP for `sandbox=remote` clients (the paper's CPU nodes).

    python launch.py stage=sandbox_server                                  # 127.0.0.1:8471, local pool
    python launch.py stage=sandbox_server sandbox.host=0.0.0.0 sandbox.token=$SECRET sandbox.pool_size=64

Runs until SIGINT/SIGTERM; returns the per-status counters of everything it ran.
"""

from __future__ import annotations

import asyncio
import logging

from r1ci.config import Config
from r1ci.sandbox.server import serve
from r1ci.sandbox.settings import as_sandbox_config

log = logging.getLogger(__name__)
TRACKED = False  # no W&B run: a server, not an experiment


def run(cfg: Config) -> dict:
    sandbox_cfg = as_sandbox_config(cfg.sandbox)
    counters = asyncio.run(serve(sandbox_cfg))
    log.info("sandbox server stopped; results by status: %s", counters)
    return {"counters": counters}
