"""Stage pipeline (the default of `python launch.py`): the whole method, each step feeding the next.

    prepare_data -> synth -> sft -> eval (untrained) -> eval (SFT) -> potential -> rl -> eval (RL) -> summary

Each step is `python launch.py stage=<step> <your overrides> <its inputs>` in a subprocess (a clean vLLM,
torch and DeepSpeed state per step, exactly the command a user would type), writing into its own dir.
A step whose dir holds `step.json` is done and skipped, so rerunning the same command resumes; a step
killed half-way resumes from its own checkpoints (sft, rl) or rollout log (potential).

Where steps live: the steps before RL do not depend on the curriculum, so they go to a shared dir
(`<paths.root>/pipeline/steps/<step>-<hash>`) named by the step's composed science config (its run id,
r1ci.config.run_id) and its input dir. Equal configs share a step however they were spelled: a multirun
over curricula (experiments/curriculum_ablation.yaml) runs them once, and reuses those of an earlier
`python launch.py` with the same settings. RL and its eval go in this run's own dir.

In a multi-task job (SLURM, one task per GPU) every task runs the pipeline; the training steps (sft, rl)
run on all of them as one process group (each subprocess inherits its task's SLURM variables), the other
steps on rank 0 while the rest wait for its `step.json`. (Not run here: this machine has no GPUs.)

Every step sees the command line's overrides, except those only one step reads (ONLY_FOR): `sft.*` reaches
the sft step, `grpo.*` and the curriculum's RL settings the rl step (and eval_rl, which labels the run), so
`python launch.py sft.lr=3e-3 grpo.lr=1e-4` sets each where it belongs and leaves the other steps shared.
Files in the run dir: summary.md / summary.csv / summary.png (accuracy per task
before SFT, after SFT, after RL), steps.json (every step's dir and time).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from r1ci.config import Config, PipelineConfig, compose, run_id
from r1ci.distributed import dist_info
from r1ci.stages.tables import markdown, pct, write_csv
from r1ci.runtime import output_dir

log = logging.getLogger(__name__)
TRACKED = False  # no W&B run of its own: every step is a stage run with its own
REPO = Path(__file__).resolve().parents[2]
DONE = "step.json"
GO = ".started"  # rank 0 of the job running a step writes its job key here
# Overrides (by key prefix) that one shared step reads and no other: they reach that step only, so the
# other shared steps stay shared. The rest of the curriculum is the potential step's too (styles, temperatures).
ONLY_FOR = {"sft": ("sft.",), "rl": ("grpo.", "curriculum", "curriculum.kind", "curriculum.n_stages",
                                     "curriculum.steps_per_stage", "curriculum.regroup_every")}
# What the three evals are called in the summary.
EVALS = {"eval_untrained": "untrained", "eval_sft": "SFT", "eval_rl": "RL"}
DISTRIBUTED = ("sft", "rl")  # stages that run on every rank of a multi-task job


@dataclass
class Step:
    name: str  # eval_sft, rl, ...
    stage: str  # the stage it runs
    overrides: list[str]
    shared: bool  # in the shared steps dir (independent of the curriculum) or this run's dir
    dir: Path = field(default=Path())


def run(cfg: Config) -> dict:
    # compose: the user's overrides and the plan
    out = output_dir(cfg)
    user = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    user = [o for o in user if not _key(o).startswith(("hydra.", "stage", "pipeline."))]
    shared_root = Path(cfg.paths.root) / "pipeline" / "steps"
    steps = plan(user, cfg.pipeline, cfg.curriculum.kind, out, shared_root, identity=config_identity)

    # loop: run or skip each step
    record = []
    for i, step in enumerate(steps, 1):
        seconds = run_step(step, i, len(steps))
        record.append({"step": step.name, "dir": str(step.dir), "seconds": seconds})
        if dist_info().rank == 0:
            (out / "steps.json").write_text(json.dumps(record, indent=1))

    # write: the summary (rank 0)
    if dist_info().rank != 0:
        return {"out_dir": str(out)}
    by_name = {s.name: s for s in steps}
    rows = summary_rows({label: by_name[name].dir for name, label in EVALS.items() if name in by_name})
    write_csv(out / "summary.csv", rows)
    table = summary_markdown(rows, cfg)
    (out / "summary.md").write_text(table)
    plot_summary(rows, out / "summary.png")
    print_summary(rows, out)
    overall = rows[-1]
    return {"out_dir": str(out), **{f"accuracy/{k}": overall[k] for k in EVALS.values() if k in overall},
            "metric": overall["RL"]}


def config_identity(overrides: list[str]) -> str:
    """What a step computes: the run id of its composed config, plus its input dir (paths are left out of
    the run id, and two synth outputs can feed the same SFT config)."""
    cfg = compose(overrides)
    return f"{run_id(cfg)}:{cfg.paths.input_dir}"


def plan(user: list[str], p: PipelineConfig, curriculum: str, out: Path, shared_root: Path,
         identity: Callable[[list[str]], str] = json.dumps) -> list[Step]:
    """The steps, in order, with their inputs wired; shared dirs are content-addressed by `identity` of a
    step's overrides (the run: config_identity; by default the overrides as written).
    `curriculum` is the pipeline's (stage=pipeline defaults to the paper's staged one)."""
    # Eval items: the held-out items of prepare_data's output, or another task mix's (generated).
    eval_items = [f"task_mix={p.eval_task_mix}"] if p.eval_task_mix else None
    steps: dict[str, Step] = {}

    def add(name: str, stage: str, extra: list[str], shared: bool = True) -> Step:
        mine = [o for o in user if not shared or _only_for(o) in (None, name)]
        base = [o for o in mine if _key(o) not in {_key(e) for e in extra}]
        step = Step(name, stage, [f"stage={stage}", *base, *extra], shared)
        if shared:
            digest = hashlib.sha1(json.dumps([name, identity(step.overrides)]).encode()).hexdigest()[:10]
            step.dir = shared_root / f"{name}-{digest}"
        else:
            step.dir = out / name
        steps[name] = step
        return step

    data = add("prepare_data", "prepare_data", [])
    eval_items = eval_items or [f"paths.input_dir={data.dir}"]
    init: list[str] = []  # cold start (the paper's ablation): RL from the untrained model, no SFT
    if not p.cold_start:
        synth = add("synth", "synth", [f"paths.input_dir={data.dir}"])
        sft_step = add("sft", "sft", [f"paths.input_dir={synth.dir}"])
        init = [f"grpo.init_model={sft_step.dir / 'model'}"]
    add("eval_untrained", "eval", eval_items)
    if not p.cold_start:
        add("eval_sft", "eval", [*eval_items, f"model.path={sft_step.dir / 'model'}"])
    potential = add("potential", "potential", [f"paths.input_dir={data.dir}", *init])
    rl_step = add("rl", "rl", [f"paths.input_dir={data.dir}", *init, f"curriculum={curriculum}",
                               f"curriculum.potential_dir={potential.dir}"], shared=False)
    # (curriculum and cold start only label this eval, for stage=report's comparison of a sweep)
    labels = [f"curriculum={curriculum}"] + (["pipeline.cold_start=true"] if p.cold_start else [])
    add("eval_rl", "eval", [*eval_items, f"model.path={rl_step.dir / 'model'}", *labels], shared=False)
    return list(steps.values())


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _only_for(override: str) -> str | None:
    """The one shared step that reads this override, or None (every step gets it)."""
    key = _key(override)
    return next((step for step, keys in ONLY_FOR.items()
                 if any(key == k.rstrip(".") or (k.endswith(".") and key.startswith(k)) for k in keys)), None)


def run_step(step: Step, index: int, total: int) -> float:
    """Run one step as `python launch.py ...` unless its dir says it is done; its seconds.

    Concurrent jobs of a sweep (SLURM array elements) share the steps before RL: the first to claim a
    step runs it while the others wait for its `step.json`. The claim is an flock, which the OS releases
    if its job dies, so a waiting (or requeued) job then resumes the step from its checkpoints.
    """
    head = f"[pipeline {index}/{total}] {step.name}"
    step.dir.mkdir(parents=True, exist_ok=True)
    if dist_info().rank != 0:
        return _follow(step, head)
    with _claim(step.dir, head):
        if (step.dir / DONE).exists():
            log.info("%s: done already (%s), skipped", head, step.dir)
            return float(json.loads((step.dir / DONE).read_text())["seconds"])
        (step.dir / GO).write_text(_job_key())  # this job's other ranks may join a training step now
        seconds = _launch(step, head)
        (step.dir / DONE).write_text(json.dumps({"step": step.name, "overrides": step.overrides,
                                                 "seconds": seconds}, indent=1))
        (step.dir / GO).unlink()
    return seconds


def _follow(step: Step, head: str) -> float:
    """Ranks > 0: wait until rank 0 has finished the step, or has started a training step, which every
    rank runs as one process group. The job's time limit bounds the wait."""
    while True:
        if (step.dir / DONE).exists():
            return float(json.loads((step.dir / DONE).read_text())["seconds"])
        go = step.dir / GO
        if step.stage in DISTRIBUTED and go.exists() and go.read_text() == _job_key():
            return _launch(step, head)
        time.sleep(10)


@contextmanager
def _claim(step_dir: Path, head: str) -> Iterator[None]:
    with open(step_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another job is running this step; waiting for it", head)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _job_key() -> str:
    """The same for every rank of one job (and across its requeues), different between jobs."""
    env = os.environ
    return env.get("SLURM_JOB_ID") or env.get("TORCHELASTIC_RUN_ID") or "local"


def _launch(step: Step, head: str) -> float:
    cmd = [sys.executable, str(REPO / "launch.py"), *step.overrides, f"hydra.run.dir={step.dir}"]
    log.info("%s: %s", head, " ".join(cmd[1:]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=os.getcwd())
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{head} failed (exit {proc.returncode}); its log: {step.dir / 'launch.log'}. "
                           "Rerun the same command to resume from there.")
    log.info("%s: finished in %.0f s", head, seconds)
    return seconds


def summary_rows(eval_dirs: dict[str, Path], style: str = "interpreter") -> list[dict]:
    """A row per task (source, task, accuracy per model) and a last row with the macro average."""
    metrics = {label: json.loads((d / "metrics.json").read_text()) for label, d in eval_dirs.items()}
    first = next(iter(metrics.values()))
    sources = first["sources"]
    rows = []
    for task in sorted(sources, key=lambda t: (sources[t], t)):
        row = {"source": sources[task], "task": task}
        for label, m in metrics.items():
            row[label] = m["styles"][style]["task_accuracy"].get(task)
        rows.append(row)
    rows.append({"source": "", "task": "overall", **{label: m["styles"][style]["accuracy"]
                                                     for label, m in metrics.items()}})
    return rows


def _labels(rows: list[dict]) -> list[str]:
    """The models the summary compares, in pipeline order (no SFT column in a cold start)."""
    return [k for k in EVALS.values() if k in rows[0]]


def summary_markdown(rows: list[dict], cfg: Config) -> str:
    labels = _labels(rows)
    body = [[r["source"], r["task"], *(pct(r[k]) for k in labels)] for r in rows]
    return (f"# r1ci pipeline: accuracy (%) on held-out items, {cfg.model.name}, task mix {cfg.task_mix.name}, "
            f"curriculum {cfg.curriculum.kind}\n\n" + markdown(["source", "task", *labels], body))


def plot_summary(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _labels(rows)
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows)), 4.0))
    for j, label in enumerate(labels):
        xs = [i + (j - (len(labels) - 1) / 2) * width for i in range(len(rows))]
        bars = ax.bar(xs, [100 * (r[label] or 0.0) for r in rows], width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(rows)), [r["task"].replace("_", "\n") for r in rows], fontsize=8)
    ax.set(ylabel="accuracy (%)", ylim=(0, 105), title="Held-out accuracy: " + " -> ".join(labels))
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def print_summary(rows: list[dict], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Held-out accuracy (%), interpreter style")
    for col in ("task", *_labels(rows)):
        table.add_column(col, justify="left" if col == "task" else "right")
    for r in rows:
        table.add_row(r["task"], *(pct(r[k]) for k in _labels(rows)), style="bold" if r["task"] == "overall" else None)
    console = Console()
    console.print(table)
    console.print(f"summary: {out / 'summary.md'}, plot: {out / 'summary.png'}")
