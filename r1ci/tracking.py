"""W&B setup (offline by default) with a stable run id per output dir, and a reader for offline runs.

A job that is requeued or rerun in the same output dir continues the same W&B run: the id is stored in
`<out_dir>/wandb_run_id` the first time and reused (resume="allow"). Only rank 0 logs.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from r1ci.config import Config, as_container

from r1ci.distributed import dist_info

RUN_ID_FILE = "wandb_run_id"


class NullRun:
    """Stands in for a W&B run when logging is off, so stages call `run.log` unconditionally."""

    id = None
    dir = None

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass

    @property
    def summary(self) -> dict:
        return {}


def stable_run_id(out_dir: Path) -> str:
    path = out_dir / RUN_ID_FILE
    if path.exists():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id)
    return run_id


def init_wandb(cfg: Config, out_dir: Path, job_type: str) -> Any:
    """Start (or resume) the W&B run of this output dir; a NullRun when off or not rank 0."""
    if cfg.logger.kind == "none" or cfg.logger.mode == "disabled" or dist_info().rank != 0:
        return NullRun()
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    return wandb.init(
        project=cfg.logger.project,
        group=cfg.logger.group or cfg.experiment_name,
        job_type=job_type,
        name=f"{job_type}-{out_dir.name}",
        id=stable_run_id(out_dir),
        resume="allow",
        dir=str(out_dir),
        mode=cfg.logger.mode,
        config=as_container(cfg),
    )


NO_RUN = NullRun()  # a stage run directly (tests, notebooks) logs nowhere


@contextmanager
def wandb_run(cfg: Config, out_dir: Path, job_type: str) -> Iterator[Any]:
    """The one W&B life cycle, around a whole stage (launch.py): opened (or resumed) before it starts and
    finished when it ends. A stage that raises marks its run failed (exit code 1) and the run is still
    closed and flushed; a requeue after a checkpoint (SystemExit, r1ci/requeue.py) finishes it cleanly,
    for the requeued job to resume."""
    run = init_wandb(cfg, out_dir, job_type)
    try:
        yield run
    except SystemExit:
        finish_wandb(run)
        raise
    except BaseException:
        finish_wandb(run, exit_code=1)
        raise
    finish_wandb(run)


def finish_wandb(run: Any, exit_code: int = 0) -> None:
    """Finish and flush: wandb 0.31's finish() returns before the offline file is written (stack-notes).
    Finishing twice is harmless (a requeue finishes before it exits, then the life cycle does)."""
    run.finish(exit_code=exit_code)
    if not isinstance(run, NullRun):
        import wandb

        wandb.teardown()


def read_steps(path: Path, timings: bool = True) -> list[dict[str, Any]]:
    """Every complete record of a StepLog file (a torn last line, from a kill mid-write, is left out).
    timings=False leaves out what is measured rather than computed (`time/*` wall clock, `perf/*` throughput
    and memory): the rest is what two runs of one config must agree on."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows if timings else [{k: v for k, v in r.items() if not k.startswith(("time/", "perf/"))} for r in rows]


class StepLog:
    """Per-step metrics as JSON lines, in step with the checkpoints: opened on a resume from step s, it
    drops the records of later steps (they are redone), so the file reads as one uninterrupted run
    whatever was killed. Each record is flushed when written; a killed job loses none. Rank 0 writes."""

    def __init__(self, path: Path, resume_step: int, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if enabled:
            kept = [r for r in read_steps(path) if r["step"] <= resume_step]
            tmp = path.with_name(path.name + ".tmp")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            tmp.replace(path)

    def append(self, step: int, metrics: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps({"step": step, **metrics}) + "\n")


# ---- reading offline runs back (wandb ships no reader; the file is a LevelDB-style record log) ----
_BLOCK = 32 * 1024
_HEADER = 7  # crc32 (4) + length (2) + type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B run file")
    out: list[bytes] = []
    pos, partial = 7, b""
    while pos + _HEADER <= len(data):
        block_left = _BLOCK - pos % _BLOCK
        if block_left < _HEADER:  # block trailer padding
            pos += block_left
            continue
        _crc, length, rtype = struct.unpack("<IHB", data[pos:pos + _HEADER])
        payload = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if rtype == _FULL:
            out.append(payload)
        elif rtype == _FIRST:
            partial = payload
        elif rtype == _MIDDLE:
            partial += payload
        elif rtype == _LAST:
            out.append(partial + payload)
        elif rtype == 0 and length == 0:
            break
    return out


def read_offline_run(run_file: Path) -> dict[str, Any]:
    """{"run_id", "config": {...}, "history": [{...}], "summary": {...}, "exit_code"} from a `run-<id>.wandb`
    file (exit_code None while the run was not finished)."""
    from wandb.proto import wandb_internal_pb2 as pb

    result: dict[str, Any] = {"run_id": None, "config": {}, "history": [], "summary": {}, "exit_code": None}
    for raw in _records(run_file):
        rec = pb.Record()
        rec.ParseFromString(raw)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            result["run_id"] = rec.run.run_id
            for item in rec.run.config.update:
                result["config"][item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                result["config"][item.key] = json.loads(item.value_json)
        elif kind == "history":
            result["history"].append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                      for i in rec.history.item})
        elif kind == "exit":
            result["exit_code"] = rec.exit.exit_code
        elif kind == "summary":
            for item in rec.summary.update:
                result["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return result


def find_offline_runs(root: Path) -> list[Path]:
    """All offline run files under `root`, oldest first."""
    return sorted(root.rglob("offline-run-*/run-*.wandb"), key=lambda p: p.stat().st_mtime)
