"""Turn a task_mix config into task names and train/test items (the data every stage starts from)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from omegaconf import DictConfig

from r1ci.tasks.base import TaskItem
from r1ci.tasks.registry import get_task, task_source
from r1ci.tasks.split import load_split


def select_tasks(task_mix: DictConfig) -> list[str]:
    """Explicit `tasks` if given, else the manifest's tasks on `split` from `sources`."""
    if task_mix.tasks:
        return list(task_mix.tasks)
    split = load_split(task_mix.manifest)
    return split.tasks(task_mix.split, tuple(task_mix.sources))


def derived_seed(seed: int, task: str, side: str) -> int:
    """A stable per-(task, side) seed, so train and test items are drawn independently."""
    digest = hashlib.sha256(f"{seed}/{task}/{side}".encode()).hexdigest()
    return int(digest[:8], 16)


@dataclass
class TaskData:
    task: str
    source: str
    train: list[TaskItem]
    test: list[TaskItem]


def build_task_data(task: str, n_train: int, n_test: int, seed: int) -> TaskData:
    """Items for one task; test items whose question also appears in train are dropped (no leakage)."""
    t = get_task(task)
    train = t.generate(n_train, derived_seed(seed, task, "train")) if n_train else []
    test = t.generate(n_test, derived_seed(seed, task, "test")) if n_test else []
    seen = {it.question for it in train}
    test = [it for it in test if it.question not in seen]
    return TaskData(task=task, source=task_source(task), train=train, test=test)


def load_items(cfg: DictConfig, side: str) -> list[TaskItem]:
    """The `side` ("train" | "test") items of the task mix: from prepare_data's JSONL in `paths.input_dir`
    when given, else generated the way prepare_data would (same seeds, so the same items)."""
    import json
    from pathlib import Path

    if cfg.paths.input_dir and (Path(cfg.paths.input_dir) / f"{side}.jsonl").exists():
        with open(Path(cfg.paths.input_dir) / f"{side}.jsonl") as f:
            return [TaskItem.from_dict(json.loads(line)) for line in f if line.strip()]
    mix = cfg.task_mix
    items: list[TaskItem] = []
    for task in select_tasks(mix):
        data = build_task_data(task, mix.n_train_per_task, mix.n_test_per_task, mix.seed)
        items += data.train if side == "train" else data.test
    return items
