"""Stage potential: every training sample's success rate p under the starting policy, and its improvement
potential Pi = 4p(1-p) (paper: "Curriculum by improvement potential"), for the staged curriculum of stage=rl.

N = len(curriculum.styles) x len(curriculum.temperatures) answers per sample (paper: 4 styles x 5 = 20)
from `grpo.init_model` (the model RL starts from, normally the SFT model; default model.path). Items:
the RL share of `<paths.input_dir>/train.jsonl` (or of items generated like prepare_data), r1ci.tasks.mix.training_items.

Resumable: rollouts are appended to rollouts.jsonl chunk by chunk (flushed); a rerun of the same command
skips every (sample, style, temperature) already there, so nothing is rolled out twice.

Files in the run dir:
  rollouts.jsonl   one line per answer: item_id, task, style, temperature, correct, infra_failed
  potential.jsonl  one line per sample: item_id, task, p, potential, n (scored answers), n_infra,
                   style_rates {style: p under that style}   (read by stage=rl: curriculum.potential_dir)
  summary.json     counts, mean p and Pi, share of samples with p = 0 / p = 1, per-task mean p
  histogram.png    histograms of p and Pi
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from r1ci.config import Config
from r1ci.curriculum.potential import POTENTIAL, improvement_potential
from r1ci.tracking import NO_RUN
from r1ci.rollout.engines import engine_sampling, make_engine
from r1ci.rollout.loop import InterpreterFormatter, RolloutJob, Style, run_rollouts
from r1ci.rollout.reward import score_trajectory
from r1ci.runtime import output_dir
from r1ci.seeds import sample_seed, seed_everything
from r1ci.sandbox import make_sandbox
from r1ci.tasks import TaskItem
from r1ci.tasks.mix import training_items

log = logging.getLogger(__name__)
ROLLOUTS = "rollouts.jsonl"
CHUNK = 512  # rollouts between two appends to rollouts.jsonl: the most a kill can lose


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    # compose
    seed_everything(cfg.seed)
    out = output_dir(cfg)
    items = training_items(cfg, "rl")
    if not items:
        raise ValueError("no training items: check task_mix")
    styles = [Style.from_prompts(cfg.prompts, s) for s in cfg.curriculum.styles]
    temps = list(cfg.curriculum.temperatures)
    done = read_done(out / ROLLOUTS)
    todo = [(RolloutJob(it, st, sample_seed(cfg.seed, f"{it.id}/{st.name}", k), temperature=t), k)
            for it in items for st in styles for k, t in enumerate(temps) if (it.id, st.name, k) not in done]
    log.info("potential: %d samples x %d styles x %d temperatures; %d answers to go (%d already done)",
             len(items), len(styles), len(temps), len(todo), len(done))

    # build + loop
    if todo:
        drop_torn_line(out / ROLLOUTS)
        asyncio.run(_estimate(cfg, todo, items, out / ROLLOUTS))

    # write
    rows = per_sample(items, read_rollouts(out / ROLLOUTS), [s.name for s in styles])
    with open(out / POTENTIAL, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    summary = summarize(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    plot_histograms(rows, out / "histogram.png")
    wb.log({f"potential/{k}": v for k, v in summary.items() if not isinstance(v, dict)})
    return {"out_dir": str(out), "metric": summary["mean_potential"], **{k: v for k, v in summary.items()
                                                                         if not isinstance(v, dict)}}


async def _estimate(cfg: Config, jobs: list[tuple[RolloutJob, int]], items: list[TaskItem],
                    path: Path) -> None:
    """Roll out `jobs` (job, temperature index) in chunks on one engine and sandbox, appending each chunk's
    results to `path`."""
    from r1ci.models.tiny import resolve_model_path

    by_id = {it.id: it for it in items}
    model_path = cfg.grpo.init_model or resolve_model_path(cfg.model, cfg.paths.cache_dir)
    async with make_sandbox(cfg.sandbox) as sandbox:
        engine = make_engine(cfg.engine, cfg.model, model_path, cfg.seed)
        try:
            fmt = InterpreterFormatter(engine.tokenizer, cfg.rollout.max_exec_output_tokens)
            for start in range(0, len(jobs), CHUNK):
                chunk = jobs[start:start + CHUNK]
                trajs = await run_rollouts([j for j, _ in chunk], engine, sandbox, fmt, cfg.rollout,
                                           engine_sampling(cfg.engine),
                                           cfg.engine.max_concurrency,
                                           desc=f"potential {start + len(chunk)}/{len(jobs)}")
                with open(path, "a") as f:
                    for (job, k), t in zip(chunk, trajs):
                        reward = score_trajectory(t, by_id[t.item_id], cfg.rollout.reward)
                        f.write(json.dumps({"item_id": t.item_id, "task": t.task, "style": job.style.name,
                                            "temperature": job.temperature,
                                            "sample": k,
                                            "correct": reward is not None and reward.correct, "infra_failed": t.infra_failed}) + "\n")
        finally:
            engine.close()


def read_rollouts(path: Path) -> list[dict]:
    """Finished answers; a line cut short by a kill is ignored (its rollout runs again)."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def drop_torn_line(path: Path) -> None:
    """Cut a last line a kill left unfinished, so the next append starts on a line of its own."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])


def read_done(path: Path) -> set[tuple[str, str, int]]:
    return {(r["item_id"], r["style"], r["sample"]) for r in read_rollouts(path)}


def per_sample(items: list[TaskItem], rollouts: list[dict], styles: list[str]) -> list[dict]:
    """p per sample over its scored answers (infra failures are the sandbox's, not the model's, and do
    not count); a sample whose answers all failed for infra reasons gets p = 0 and n = 0."""
    seen: dict[str, dict[tuple[str, int], dict]] = defaultdict(dict)
    for r in rollouts:
        seen[r["item_id"]][(r["style"], r["sample"])] = r  # a duplicate (never written twice) would count once
    rows = []
    for it in items:
        answers = list(seen[it.id].values())
        scored = [a for a in answers if not a["infra_failed"]]
        p = sum(a["correct"] for a in scored) / len(scored) if scored else 0.0
        rates = {}
        for s in styles:
            mine = [a for a in scored if a["style"] == s]
            rates[s] = sum(a["correct"] for a in mine) / len(mine) if mine else None
        rows.append({"item_id": it.id, "task": it.task, "p": p, "potential": improvement_potential(p),
                     "n": len(scored), "n_infra": len(answers) - len(scored), "style_rates": rates})
    return rows


def summarize(rows: list[dict]) -> dict:
    n = max(1, len(rows))
    by_task: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_task[r["task"]].append(r["p"])
    return {"n_samples": len(rows), "mean_p": sum(r["p"] for r in rows) / n,
            "mean_potential": sum(r["potential"] for r in rows) / n,
            "share_p0": sum(r["p"] == 0 for r in rows) / n, "share_p1": sum(r["p"] == 1 for r in rows) / n,
            "n_infra": sum(r["n_infra"] for r in rows),
            "task_mean_p": {t: sum(v) / len(v) for t, v in sorted(by_task.items())}}


def plot_histograms(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in zip(axes, ("p", "potential"), ("success rate p", "improvement potential 4p(1-p)")):
        ax.hist([r[key] for r in rows], bins=20, range=(0, 1), color="tab:blue")
        ax.set_xlabel(label)
        ax.set_ylabel("samples")
    fig.suptitle(f"{len(rows)} training samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
