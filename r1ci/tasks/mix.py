"""Turn a task_mix config into task names and train/test items (the data every stage starts from).

The rules, in one place:
- Tasks chosen from the manifest (no explicit `task_mix.tasks`) follow their side of the split (paper:
  split BY TASK): a test-side task gives test items only, never training items. An explicit task list
  (the smoke mix) is the user's choice: its tasks give both sides, held-out items of the same tasks.
- Test items never repeat a training question; when a fixed pool (BBH) overlaps the training draw, more
  items are drawn, so a task still gets `n_test_per_task` items where its pool has them.
- SFT and RL use disjoint training items (paper): see `training_items`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from r1ci.seeds import hashed_seed
from r1ci.tasks.base import Task, TaskItem
from r1ci.tasks.bbh import set_data_dir
from r1ci.tasks.registry import get_task, task_source
from r1ci.tasks.split import load_split
from r1ci.tasks.user_jsonl import register_user_tasks


def select_tasks(task_mix: Any) -> list[str]:
    """Explicit `tasks` if given, else the manifest's tasks on `split` from `sources`; then the user tasks
    (`task_mix.user_tasks`), read and registered here so every stage that selects tasks can score them."""
    user = register_user_tasks(task_mix)
    if task_mix.tasks:
        names = list(task_mix.tasks)
    else:
        names = load_split(task_mix.manifest).tasks(task_mix.split, tuple(task_mix.sources))
    return names + [u for u in user if u not in names]


def eval_only_tasks(task_mix: Any) -> set[str]:
    """Tasks of the mix that give no training items: manifest-chosen tasks on the test side, and user
    tasks (a benchmark you bring is never trained on)."""
    user = {u.name for u in task_mix.user_tasks}
    if task_mix.tasks:
        return user
    split = load_split(task_mix.manifest)
    return user | {t for t in select_tasks(task_mix) if t in split.source_of and split.side(t) == "test"}


@dataclass
class TaskData:
    task: str
    source: str
    train: list[TaskItem]
    test: list[TaskItem]


def build_task_data(task: str, n_train: int, n_test: int, seed: int) -> TaskData:
    """Items for one task: `n_train` training items and `n_test` test items that repeat none of them."""
    t = get_task(task)
    # a seed per (task, side): train and test items are drawn independently
    train = t.generate(n_train, hashed_seed(seed, task, "train")) if n_train else []
    test = held_out(t, n_test, hashed_seed(seed, task, "test"), {it.question for it in train})
    return TaskData(task=task, source=task_source(task), train=train, test=test)


def held_out(task: Task, n: int, seed: int, taken: set[str]) -> list[TaskItem]:
    """`n` items whose questions are not in `taken`. A draw that loses items to `taken` is redone with
    room for every overlap; generators draw items in seeded order, so the kept items stay the same."""
    if n <= 0:
        return []
    items = [it for it in task.generate(n, seed) if it.question not in taken]
    if len(items) < n and taken:
        items = [it for it in task.generate(n + len(taken), seed) if it.question not in taken]
    return items[:n]


def use_data_dirs(task_mix: Any) -> None:
    """Point the sources with data files at the mix's copies (`task_mix.bbh_dir`; else their defaults)."""
    if task_mix.bbh_dir:
        set_data_dir(task_mix.bbh_dir)


def mix_data(task_mix: Any) -> Iterator[TaskData]:
    """Every task of the mix with its items, by the rules in the module docstring (one task at a time)."""
    use_data_dirs(task_mix)
    test_only = eval_only_tasks(task_mix)
    for task in select_tasks(task_mix):
        yield build_task_data(task, 0 if task in test_only else task_mix.n_train_per_task,
                              task_mix.n_test_per_task, task_mix.seed)


def load_items(cfg: Any, side: str) -> list[TaskItem]:
    """The task mix's `side` ("train" | "test") items, for every stage that reads items.

    With `paths.input_dir`: that prepare_data run's `<side>.jsonl`, restricted to the mix's tasks (a
    missing file is an error, never a silent regeneration). Without: generated the way prepare_data
    generates them (same seeds, so the same items).
    """
    if side not in ("train", "test"):
        raise ValueError(f"side must be train|test, got {side!r}")
    if cfg.paths.input_dir:
        path = Path(cfg.paths.input_dir) / f"{side}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"paths.input_dir has no {side}.jsonl: {path}; point it at a "
                                    "stage=prepare_data run dir, or leave it unset to generate the items")
        tasks = set(select_tasks(cfg.task_mix))
        return [it for it in read_items(path) if it.task in tasks]
    return [it for data in mix_data(cfg.task_mix) for it in (data.train if side == "train" else data.test)]


def read_items(path: Path) -> list[TaskItem]:
    """One prepare_data JSONL file (its rows also name their task's source, which TaskItem leaves out)."""
    with open(path) as f:
        return [TaskItem.from_dict(json.loads(line)) for line in f if line.strip()]


def split_for_sft(items: list[TaskItem], share: float, seed: int) -> tuple[list[TaskItem], list[TaskItem]]:
    """(SFT items, RL items): per task, a seeded `share` of its items for SFT and the rest for RL, each
    part in the input order. Disjoint, and the same for the same items and seed in every stage."""
    by_task: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_task.setdefault(it.task, []).append(i)
    sft: set[int] = set()
    for task, idx in by_task.items():
        order = sorted(idx, key=lambda i: items[i].id)
        random.Random(hashed_seed(seed, task, "sft_rl")).shuffle(order)
        sft.update(order[:round(share * len(order))])
    return [it for i, it in enumerate(items) if i in sft], [it for i, it in enumerate(items) if i not in sft]


def training_items(cfg: Any, role: str) -> list[TaskItem]:
    """The training items SFT synthesis ("sft") or RL and its p estimate ("rl") use; disjoint (paper).

    With `teacher.items_per_task` set, synthesis answers fresh items of its own (stages/synth.py) and RL
    takes every training item; otherwise each task's training items are split by `teacher.sft_share`.
    """
    if role not in ("sft", "rl"):
        raise ValueError(f"role must be sft|rl, got {role!r}")
    items = load_items(cfg, "train")
    if cfg.teacher.items_per_task:
        return items if role == "rl" else []
    sft, rl = split_for_sft(items, cfg.teacher.sft_share, cfg.task_mix.seed)
    return sft if role == "sft" else rl
