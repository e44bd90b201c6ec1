"""Checkpoint layout, RNG capture and the `latest` pointer, shared by every engine.

    <out>/checkpoints/
        latest                     the tag of the last COMPLETE checkpoint (written last, atomically)
        step_0000010/
            <engine files>         model + optimiser (DeepSpeed: its own files, sharded per rank under ZeRO)
            rng_rank<r>.pt         python, numpy, torch (and CUDA) RNG states of rank r
            trainer_state.json     everything else the loop needs to resume (see `TrainerState` users:
                                   step, data position, schedule, W&B run id, curriculum stage, ...)

A job killed while saving leaves a tag dir without being named by `latest`, so resume never reads a
half-written checkpoint. Resume needs the world size the checkpoint was written with (ZeRO shards and
per-rank RNG files are per rank).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINTS = "checkpoints"
LATEST = "latest"
STATE_FILE = "trainer_state.json"


def tag_for(step: int) -> str:
    return f"step_{step:07d}"


def rng_file(tag_dir: Path, rank: int) -> Path:
    return tag_dir / f"rng_rank{rank}.pt"


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_rng(tag_dir: Path, rank: int) -> None:
    torch.save(capture_rng(), rng_file(tag_dir, rank))


def load_rng(tag_dir: Path, rank: int) -> None:
    # Our own file of python/numpy objects: weights_only would refuse numpy's state tuple.
    restore_rng(torch.load(rng_file(tag_dir, rank), weights_only=False))


def latest_tag_dir(root: Path) -> Path | None:
    """The last complete checkpoint under `root` (= <out>/checkpoints), or None."""
    pointer = root / LATEST
    if not pointer.exists():
        return None
    tag_dir = root / pointer.read_text().strip()
    return tag_dir if (tag_dir / STATE_FILE).exists() else None


def write_state_and_publish(root: Path, tag_dir: Path, state: dict[str, Any], keep: int) -> None:
    """Rank 0, after every rank has written its files: state json, then the pointer, then prune."""
    (tag_dir / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp = root / f".{LATEST}.tmp{os.getpid()}"
    tmp.write_text(tag_dir.name)
    tmp.replace(root / LATEST)  # atomic on POSIX
    if keep > 0:
        tags = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))
        for old in tags[:-keep]:
            if old != tag_dir:
                shutil.rmtree(old, ignore_errors=True)


def read_state(tag_dir: Path) -> dict[str, Any]:
    return json.loads((tag_dir / STATE_FILE).read_text())
