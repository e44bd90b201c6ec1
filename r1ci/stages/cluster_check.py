"""Stage cluster_check: prove a SLURM allocation works before spending GPU hours on it.

    python launch.py -m stage=cluster_check launcher=slurm model=qwen2.5-7b   # same resources as the run

Every rank (one SLURM task per GPU) joins the process group, all_reduces a one (the sum must equal the
world size) and reports the output dir it resolved (all must agree: the dir is named by the run-id hash,
not a timestamp). Then a toy resumable loop runs under r1ci.requeue exactly as a trainer would: periodic
checkpoints, and on USR2 a checkpoint at the next step boundary plus a requeue. Files in the run dir:
rank<r>.json (each rank's view), events.jsonl (start/checkpoint/done, rank 0), checkpoint.json, and
cluster_check.json (rank 0's summary). tests/slurm/ drive this stage on the local cluster.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from r1ci import requeue
from r1ci.config import Config
from r1ci.distributed import init_process_group
from r1ci.tracking import NO_RUN, finish_wandb
from r1ci.runtime import output_dir


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    import torch
    import torch.distributed as dist

    info = init_process_group("gloo" if not torch.cuda.is_available() else None)
    out = output_dir(cfg)
    joined = _all_reduce_sum(1.0)
    dirs = _all_gather_str(str(out.resolve()))
    _write_json(out / f"rank{info.rank}.json", {
        "rank": info.rank, "world_size": info.world_size, "all_reduce": joined, "out_dir": str(out.resolve()),
        "all_out_dirs": dirs, "host": socket.gethostname(), "pid": os.getpid(),
        "job_id": os.environ.get("SLURM_JOB_ID"), "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0))})

    ck = cfg.cluster_check
    state = _load(out / "checkpoint.json")
    _event(out, info.is_main, "start", state["step"])
    with requeue.deferred():
        for step in range(state["step"], ck.steps):
            time.sleep(ck.step_s)
            state = {"step": step + 1, "total": state["total"] + _all_reduce_sum(float(info.rank + 1))}
            wb.log({"cluster_check/total": state["total"], "cluster_check/step": step + 1}, step=step + 1)
            if (step + 1) % ck.save_every == 0:
                _save(out, info.is_main, state, "periodic")
            if requeue.stop_requested():
                _save(out, info.is_main, state, "signal")
                finish_wandb(wb)
                requeue.requeue_and_exit()

    summary = {"world_size": info.world_size, "all_reduce": joined, "out_dirs_agree": len(set(dirs)) == 1,
               "steps": state["step"], "total": state["total"], "wandb_run_id": wb.id}
    if info.is_main:
        _write_json(out / "cluster_check.json", summary)
    _event(out, info.is_main, "done", state["step"])
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return {"out_dir": str(out), **summary}


def _all_reduce_sum(x: float) -> float:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        return x
    t = torch.tensor([x], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item())


def _all_gather_str(s: str) -> list[str]:
    import torch.distributed as dist

    if not dist.is_initialized():
        return [s]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, s)
    return out


def _load(path: Path) -> dict:
    """The last checkpoint (every rank reads the same file), or the start state."""
    return json.loads(path.read_text()) if path.exists() else {"step": 0, "total": 0.0}


def _save(out: Path, is_main: bool, state: dict, reason: str) -> None:
    if is_main:
        _write_json(out / "checkpoint.json", state)
    _event(out, is_main, "checkpoint", state["step"], reason=reason)


def _event(out: Path, is_main: bool, kind: str, step: int, **extra) -> None:
    if is_main:
        rec = {"event": kind, "step": step, "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
               "job_id": os.environ.get("SLURM_JOB_ID"), "time": time.time(), **extra}
        with open(out / "events.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")


def _write_json(path: Path, obj: dict) -> None:
    """Atomic: a requeue that kills us mid-write leaves the previous file intact."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)
