"""Rollout metrics, of eval (`summarize`) and of an RL step (`step_metrics`): pure functions over lists of
scored Trajectory objects.

Conventions:
- A trajectory is *scored* when it has a reward and no sandbox infra error. Infra-failed trajectories are
  never the model's fault (design.md): they are counted, never averaged into accuracy or behaviour stats.
- Accuracy is the share of scored trajectories whose answer the task's verifier fully accepts
  (`reward.correct`), as in the paper's table. Task accuracy averages a task's trajectories; source and
  overall accuracies are MACRO averages over tasks (each task weighs the same), as the paper averages
  over its 37 test tasks.
- Self-checking (paper, "emergent behaviour"): the model writes a candidate answer `<<<...>>>` in its own
  prose (outside code blocks) and code is run after it; the code call may be the one that closes the same
  segment (answer written, then a code block checking it) or a later one.
- An RL step's metrics are sums of counts that `all_reduce` adds up over ranks before dividing, so every
  rank logs (and raises alarms on) the whole step, never its share of it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Callable, Iterable, Mapping, Sequence

import torch

from r1ci.rollout.trajectory import Trajectory
from r1ci.sandbox import STATUSES
from r1ci.tasks import SOURCES, extract_answer

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)  # closed fenced blocks, or an unterminated one at the end


def prose(text: str) -> str:
    """A model segment with its code blocks removed: an answer printed by code is not a candidate answer."""
    return _CODE_BLOCK.sub("", text)


def self_checked(traj: Trajectory) -> bool:
    """True when code runs after the model has written a candidate answer (see module docstring)."""
    seen_answer = False
    for seg in traj.segments:
        if seg.kind == "model" and extract_answer(prose(seg.text)) is not None:
            seen_answer = True
        elif seg.kind == "interpreter" and seen_answer:
            return True
    return False


def is_scored(traj: Trajectory) -> bool:
    return traj.reward is not None and not traj.infra_failed


def model_tokens(traj: Trajectory) -> int:
    """Tokens the model wrote (loss mask 1): the paper's response length without interpreter output."""
    return sum(traj.loss_mask)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def accuracy(trajs: Iterable[Trajectory]) -> float | None:
    """Share of scored trajectories answered correctly; None when none is scored."""
    return _mean([float(t.reward.correct) for t in trajs if is_scored(t)])


def task_accuracy(trajs: Iterable[Trajectory]) -> dict[str, float]:
    """Task name -> accuracy over its scored trajectories (tasks with none scored are left out)."""
    by_task: dict[str, list[float]] = defaultdict(list)
    for t in trajs:
        if is_scored(t):
            by_task[t.task].append(float(t.reward.correct))
    return {task: sum(v) / len(v) for task, v in by_task.items()}


def macro_average(task_acc: Mapping[str, float], tasks: Iterable[str] | None = None) -> float | None:
    """Mean of per-task accuracies (over `tasks` if given); None when no task has a value."""
    names = list(task_acc) if tasks is None else [t for t in tasks if t in task_acc]
    return _mean([task_acc[t] for t in names])


def source_accuracy(task_acc: Mapping[str, float], source_of: Mapping[str, str]) -> dict[str, float]:
    """Source -> macro average over its tasks; sources in the paper's order (SymBench, BBH, Reasoning-Gym)."""
    present = set(source_of.values())
    out: dict[str, float] = {}
    for source in [s for s in SOURCES if s in present] + sorted(present - set(SOURCES)):
        value = macro_average(task_acc, [t for t, s in source_of.items() if s == source])
        if value is not None:
            out[source] = value
    return out


def behaviour(trajs: Sequence[Trajectory]) -> dict[str, float | None]:
    """Means over scored trajectories: code calls, turns, tokens, shares that use code / self-check."""
    scored = [t for t in trajs if is_scored(t)]
    return {
        "code_calls_mean": _mean([t.code_calls for t in scored]),
        "turns_mean": _mean([t.turns for t in scored]),
        "response_tokens_mean": _mean([t.response_len for t in scored]),  # model + interpreter tokens
        "model_tokens_mean": _mean([model_tokens(t) for t in scored]),
        "code_use_share": _mean([float(t.code_calls > 0) for t in scored]),
        "self_check_share": _mean([float(self_checked(t)) for t in scored]),
        "answered_share": _mean([float(t.final_answer is not None) for t in scored]),
        "well_formed_share": _mean([float(t.reward.well_formed) for t in scored]),
        "reward_mean": _mean([t.reward.total for t in scored]),
    }


def counts(trajs: Sequence[Trajectory]) -> dict[str, int]:
    """Trajectory counts (all, scored, infra-failed), finish reasons and per-status code execution counts."""
    out = {"n": len(trajs), "n_scored": sum(is_scored(t) for t in trajs),
           "n_infra": sum(t.infra_failed for t in trajs)}
    out.update({f"finish/{k}": v for k, v in sorted(Counter(t.finish for t in trajs).items())})
    statuses = Counter(r.status for t in trajs for r in t.exec_results)
    out.update({f"exec/{k}": v for k, v in sorted(statuses.items())})
    return out


def summarize(trajs: Sequence[Trajectory], source_of: Mapping[str, str]) -> dict:
    """Everything eval reports for one setting (one prompt style): accuracies, behaviour, counts."""
    task_acc = task_accuracy(trajs)
    return {
        "accuracy": macro_average(task_acc),
        "accuracy_micro": accuracy(trajs),
        "source_accuracy": source_accuracy(task_acc, source_of),
        "task_accuracy": task_acc,
        **behaviour(trajs),
        **counts(trajs),
    }


def step_metrics(trajs: Sequence[Trajectory], rewards: Sequence[float], kept: Sequence[int], groups_dropped: int,
                 group_size: int, all_reduce: Callable[[list[float]], list[float]] = lambda v: v
                 ) -> dict[str, float]:
    """An RL step's reward by component, accuracy, zero-variance groups, lengths, turns, code calls and
    sandbox health, over the `kept` trajectories (whole groups without an infra error): of the whole step
    when `all_reduce` sums this rank's counts with the other ranks'."""
    scored = [trajs[i] for i in kept]
    kept_rewards = torch.tensor([rewards[i] for i in kept], dtype=torch.float64)
    groups = kept_rewards.view(-1, group_size)
    statuses = [r.status for t in trajs for r in t.exec_results]
    counts = {
        "kept": len(scored), "groups": groups.shape[0], "reward": float(kept_rewards.sum()),
        "correct": sum(t.reward.correct for t in scored), "score": sum(t.reward.score for t in scored),
        "well_formed": sum(t.reward.well_formed for t in scored),
        "too_long": sum(t.reward.too_long for t in scored),
        "zero_variance": float((groups.std(dim=1) == 0).sum()), "tokens": sum(t.response_len for t in scored),
        "turns": sum(t.turns for t in scored), "code_calls": sum(t.code_calls for t in scored),
        "dropped": groups_dropped, "calls": len(statuses),
        "bad": sum(s in ("infra_error", "killed") for s in statuses), **{s: statuses.count(s) for s in STATUSES},
    }
    c = dict(zip(counts, all_reduce([float(v) for v in counts.values()])))
    n = max(1.0, c["kept"])
    m = {
        "reward/mean": c["reward"] / n,
        "reward/accuracy": c["correct"] / n,
        "reward/score": c["score"] / n,
        "reward/well_formed": c["well_formed"] / n,
        "reward/too_long": c["too_long"] / n,
        "reward/zero_variance_groups": c["zero_variance"] / max(1.0, c["groups"]),
        "rollout/response_tokens": c["tokens"] / n,
        "rollout/turns": c["turns"] / n,
        "rollout/code_calls": c["code_calls"] / n,
        "rollout/groups_dropped": c["dropped"],
        "sandbox/calls": c["calls"],
        "sandbox/bad_rate": c["bad"] / c["calls"] if c["calls"] else 0.0,
    }
    return {**m, **{f"sandbox/{s}": c[s] for s in STATUSES}}


__all__ = ["accuracy", "behaviour", "counts", "is_scored", "macro_average", "model_tokens", "prose",
           "self_checked", "source_accuracy", "step_metrics", "summarize", "task_accuracy"]
