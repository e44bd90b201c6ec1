"""Rank and world size from the environment (torchrun or SLURM), never from `--local_rank` arguments.

Hydra owns the command line, so launcher-injected `--local_rank` flags would break it; torchrun and
the `deepspeed --no_local_rank` launcher set LOCAL_RANK in the environment instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DistInfo:
    rank: int
    local_rank: int
    world_size: int
    master_addr: str
    master_port: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _first_host(nodelist: str) -> str:
    """First hostname of a SLURM nodelist like `node[01-04,07],other` (scontrol-free)."""
    head = nodelist.split(",")[0]
    if "[" in head:
        prefix, rest = head.split("[", 1)
        first = rest.rstrip("]").split(",")[0].split("-")[0]
        return prefix + first
    return head


def dist_info() -> DistInfo:
    """torchrun's variables win; else SLURM's (one task per process); else a single process."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return DistInfo(int(env["RANK"]), int(env.get("LOCAL_RANK", 0)), int(env["WORLD_SIZE"]),
                        env.get("MASTER_ADDR", "127.0.0.1"), int(env.get("MASTER_PORT", 29500)))
    if "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        job_id = int(env.get("SLURM_JOB_ID", "0"))
        return DistInfo(int(env["SLURM_PROCID"]), int(env.get("SLURM_LOCALID", 0)), int(env["SLURM_NTASKS"]),
                        env.get("MASTER_ADDR") or _first_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1")),
                        int(env.get("MASTER_PORT", 20000 + job_id % 20000)))
    return DistInfo(0, 0, 1, "127.0.0.1", 29500)


def init_process_group(backend: str | None = None) -> DistInfo:
    """Join the default process group (gloo on CPU, nccl on GPU); a no-op for a single process."""
    import torch
    import torch.distributed as dist

    info = dist_info()
    if info.world_size > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        os.environ.setdefault("MASTER_ADDR", info.master_addr)
        os.environ.setdefault("MASTER_PORT", str(info.master_port))
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
        if torch.cuda.is_available():
            torch.cuda.set_device(info.local_rank)
    return info
