"""Turn the `sandbox` config (a DictConfig or a SandboxConfig) into the typed values the sandbox uses."""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from r1ci.config import SandboxConfig

# A snippet that keeps writing past this many bytes of output is killed: the first max_output_bytes are
# all anyone sees, and draining gigabytes would only burn the worker's CPU until the wall timeout.
RUNAWAY_OUTPUT_FACTOR = 64
RUNAWAY_OUTPUT_MIN = 1 << 20


def as_sandbox_config(cfg: DictConfig | SandboxConfig | dict) -> SandboxConfig:
    """Accept what callers have at hand; the dataclass runs the value checks (ConfigError on bad ones)."""
    if isinstance(cfg, SandboxConfig):
        return cfg
    if isinstance(cfg, DictConfig):
        obj = OmegaConf.to_object(cfg)
        if isinstance(obj, SandboxConfig):
            return obj
        cfg = obj  # an untyped DictConfig: build the dataclass from its keys
    names = {f.name for f in fields(SandboxConfig)}
    unknown = set(cfg) - names
    if unknown:
        raise KeyError(f"unknown sandbox config keys: {sorted(unknown)}")
    return SandboxConfig(**dict(cfg))


def pool_size(cfg: SandboxConfig) -> int:
    """Warm workers: cfg.pool_size, or the CPUs this process may run on."""
    return cfg.pool_size or len(os.sched_getaffinity(0))


def zygote_settings(cfg: SandboxConfig, uid: int, site_dirs: list[str]) -> dict[str, Any]:
    """The JSON the in-sandbox worker (zygote.py) reads from argv[1]."""
    return {
        "uid": uid,
        "site_dirs": site_dirs,
        "preimport": list(cfg.preimport),
        "warmup": cfg.warmup,
        "cpu_s": cfg.cpu_s,
        "memory_mb": cfg.memory_mb,
        "max_procs": cfg.max_procs,
        "file_size_mb": cfg.file_size_mb,
        "open_files": cfg.open_files,
        "tmp_size_mb": cfg.tmp_size_mb,
        "max_output_bytes": cfg.max_output_bytes,
        "runaway_output_bytes": max(RUNAWAY_OUTPUT_MIN, RUNAWAY_OUTPUT_FACTOR * cfg.max_output_bytes),
    }
