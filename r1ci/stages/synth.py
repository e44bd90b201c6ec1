"""Stage synth: teacher trajectories on training items -> sft.jsonl (paper: SFT data, section "SFT").

Keeps only trajectories whose final answer scores 1.0 and that are well formed (with
`teacher.keep_incorrect`, the paper's ablation, wrong answers too), drops duplicates, and
caps each task at `teacher.max_per_task`, drawing multi-turn trajectories `multi_turn_weight` times more
often (the paper up-weights text<->code switches and iterative fixing). Multi-turn here means two or
more code calls: code -> answer is the baseline shape.

sft.jsonl, one conversation per line:
  {"item_id", "task", "style", "turns", "code_calls", "messages": [{"role", "content"}, ...]}
with roles system, user, then alternating assistant / interpreter (r1ci/rollout/conversation.py).
stats.csv: task, n_items, n_trajectories, n_correct, n_kept, n_kept_multi_turn.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from r1ci.config import Config, RewardConfig
from r1ci.tracking import NO_RUN
from r1ci.rollout.conversation import trajectory_to_messages
from r1ci.rollout.engines import engine_sampling, make_engine
from r1ci.rollout.loop import InterpreterFormatter, RolloutJob, Style, run_rollouts
from r1ci.rollout.oracle import OracleEngine, oracle_scripts
from r1ci.rollout.reward import score_trajectory
from r1ci.rollout.trajectory import Trajectory
from r1ci.runtime import output_dir
from r1ci.seeds import grid_seed, hashed_seed, seed_everything
from r1ci.sandbox import make_sandbox
from r1ci.tasks import TaskItem, get_task
from r1ci.tasks.mix import (eval_only_tasks, load_items, select_tasks, training_items,
                           use_data_dirs)


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    seed_everything(cfg.seed)
    out = output_dir(cfg)
    items = teacher_items(cfg)
    trajs, jobs = asyncio.run(_generate(cfg, items))
    correct = [(t, j) for t, j in zip(trajs, jobs) if _keep(t, j.item, cfg.rollout.reward, cfg.teacher.keep_incorrect)]
    kept = select(correct, cfg.teacher.max_per_task, cfg.teacher.multi_turn_weight, cfg.seed)

    with open(out / "sft.jsonl", "w") as f:
        for traj, job in kept:
            messages = trajectory_to_messages(traj, job.style.system,
                                              job.style.user_message(job.item.question))
            f.write(json.dumps({"item_id": job.item.id, "task": job.item.task, "style": job.style.name,
                                "turns": traj.turns, "code_calls": traj.code_calls, "messages": messages}) + "\n")
    stats = _stats(items, trajs, correct, kept)
    _write_csv(out / "stats.csv", stats)
    summary = {"synth/n_items": len(items), "synth/n_trajectories": len(trajs), "synth/n_correct": len(correct),
               "synth/n_kept": len(kept), "synth/n_kept_multi_turn": sum(is_multi_turn(t) for t, _ in kept),
               "synth/n_infra_failed": sum(t.infra_failed for t in trajs)}
    wb.log(summary)
    return {"out_dir": str(out), **{k.split("/")[1]: v for k, v in summary.items()}}


def teacher_items(cfg: Config) -> list[TaskItem]:
    """The items synthesis answers, never one RL draws (r1ci.tasks.mix.training_items): the SFT share of
    the training items, or `teacher.items_per_task` fresh items of each task (their own seed), never a
    question of the train or test side (a small model memorises what it saw in SFT)."""
    n = cfg.teacher.items_per_task
    if not n:
        return training_items(cfg, "sft")
    mix = cfg.task_mix
    use_data_dirs(mix)
    taken = {it.question for side in ("train", "test") for it in load_items(cfg, side)}
    tasks = [t for t in select_tasks(mix) if t not in eval_only_tasks(mix)]
    return [it for task in tasks for it in get_task(task).generate(n, hashed_seed(mix.seed, task, "teacher"))
            if it.question not in taken]


async def _generate(cfg: Config, items: list[TaskItem]) -> tuple[list[Trajectory], list[RolloutJob]]:
    """Roll out the teacher over the items in the configured styles, through the real sandbox."""
    from transformers import AutoTokenizer

    from r1ci.models.tiny import resolve_model_path

    t = cfg.teacher
    styles = [Style.from_prompts(cfg.prompts, s) for s in t.styles]
    student_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)
    student_tok = AutoTokenizer.from_pretrained(student_path)
    engine_cfg = cfg.engine  # the oracle's concurrency; a model teacher has its own engine
    if t.kind == "oracle":
        shapes = {"direct": t.shape_direct, "fix": t.shape_fix, "check": t.shape_check}
        scripts = oracle_scripts(items, shapes, cfg.seed)
        engine = OracleEngine(student_tok, scripts)
        # Oracle turns always write code, so only interpreter-mode styles fit it.
        code_styles = [s for s in styles if s.mode == "interpreter"]
        jobs = [RolloutJob(items[i], code_styles[i % len(code_styles)], seed=i) for i in scripts]
    else:
        engine_cfg = t.engine
        engine = make_engine(engine_cfg, cfg.model, student_path, cfg.seed)
        jobs = [RolloutJob(it, st, seed=grid_seed((i, k, r), (len(styles), t.samples_per_item)))
                for i, it in enumerate(items) for k, st in enumerate(styles) for r in range(t.samples_per_item)]
    fmt = InterpreterFormatter(engine.tokenizer, cfg.rollout.max_exec_output_tokens)
    sampling = engine_sampling(engine_cfg)
    try:
        async with make_sandbox(cfg.sandbox) as sandbox:
            trajs = await run_rollouts(jobs, engine, sandbox, fmt, cfg.rollout, sampling,
                                       max_concurrency=engine_cfg.max_concurrency, desc="synth")
    finally:
        engine.close()
    return trajs, jobs


def is_multi_turn(traj: Trajectory) -> bool:
    return traj.code_calls >= 2


def _keep(traj: Trajectory, item: TaskItem, weights: RewardConfig, keep_incorrect: bool = False) -> bool:
    """Well formed and correct (paper); well formed only with `teacher.keep_incorrect` (its ablation)."""
    reward = score_trajectory(traj, item, weights)
    return reward is not None and reward.well_formed and (reward.correct or keep_incorrect)


def select(pairs: list[tuple[Trajectory, RolloutJob]], cap: int, multi_turn_weight: float,
           seed: int) -> list[tuple[Trajectory, RolloutJob]]:
    """Dedupe by response text, then per task draw up to `cap` without replacement, weighting multi-turn
    trajectories (Efraimidis-Spirakis keys, so the draw is seeded and order-independent)."""
    rng = random.Random(seed)
    by_task: dict[str, dict[str, tuple[Trajectory, RolloutJob]]] = defaultdict(dict)
    for traj, job in pairs:
        by_task[job.item.task].setdefault(job.item.question + traj.response_text, (traj, job))
    kept = []
    for task in sorted(by_task):
        unique = list(by_task[task].values())
        keys = [rng.random() ** (1.0 / (multi_turn_weight if is_multi_turn(t) else 1.0)) for t, _ in unique]
        order = sorted(range(len(unique)), key=lambda i: -keys[i])
        kept += [unique[i] for i in order[:cap]]
    return kept


def _stats(items, trajs, correct, kept) -> list[dict]:
    rows: dict[str, dict] = defaultdict(lambda: dict.fromkeys(
        ("n_items", "n_trajectories", "n_correct", "n_kept", "n_kept_multi_turn"), 0))
    for it in items:
        rows[it.task]["n_items"] += 1
    for t in trajs:
        rows[t.task]["n_trajectories"] += 1
    for t, _ in correct:
        rows[t.task]["n_correct"] += 1
    for t, _ in kept:
        rows[t.task]["n_kept"] += 1
        rows[t.task]["n_kept_multi_turn"] += is_multi_turn(t)
    return [{"task": task, **row} for task, row in sorted(rows.items())]


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["task", "n_items", "n_trajectories", "n_correct", "n_kept",
                                               "n_kept_multi_turn"])
        writer.writeheader()
        writer.writerows(rows)
