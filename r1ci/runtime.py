"""Where a stage writes and reads: the little bits every stage needs (seeds: r1ci/seeds.py)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from typing import Any


def output_dir(cfg: Any) -> Path:
    """This run's output dir: Hydra's (run or sweep job) under the CLI, else `paths.root` (compose())."""
    if HydraConfig.initialized():
        out = Path(HydraConfig.get().runtime.output_dir)
    else:
        out = Path(cfg.paths.root)
    out.mkdir(parents=True, exist_ok=True)
    return out


def input_dir(cfg: Any) -> Path:
    """Where a stage reads its predecessor's files: `paths.input_dir` if set, else its own output dir."""
    return Path(cfg.paths.input_dir) if cfg.paths.input_dir else output_dir(cfg)


def latest_output(cfg: Any, stage: str, filename: str) -> Path | None:
    """`filename` of the newest `stage` run for this model and task mix under paths.root, if any: what a
    stage reads when `paths.input_dir` is not given (`stage=synth` then `stage=sft` just works)."""
    pattern = f"{stage}/{cfg.model.name}-{cfg.task_mix.name}-*/{filename}"
    found = sorted(Path(cfg.paths.root).glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None
