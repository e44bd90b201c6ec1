"""Stage prepare_data: task mix -> train.jsonl / test.jsonl + per-task counts, in the run's output dir.

Schema of each JSONL line (one TaskItem): {"id", "task", "source", "question", "answer", "meta"}.
`answer` is the reference (null for plan-checked tasks); `meta` is what the task's verifier needs.
Files: train.jsonl, test.jsonl, counts.csv (task, source, split_side, n_train, n_test), tasks.json.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from r1ci.config import Config
from r1ci.distributed import dist_info
from r1ci.tracking import NO_RUN
from r1ci.runtime import output_dir
from r1ci.tasks.mix import mix_data, select_tasks
from r1ci.tasks.split import load_split


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    out = output_dir(cfg)
    if not dist_info().is_main:  # SLURM runs every stage once per task (docs/slurm.md): rank 0 writes
        return {"out_dir": str(out), "skipped": f"rank {dist_info().rank}"}
    mix = cfg.task_mix
    split = load_split(mix.manifest)

    rows, n_train, n_test, tasks = [], 0, 0, []
    with open(out / "train.jsonl", "w") as ftrain, open(out / "test.jsonl", "w") as ftest:
        for data in tqdm(mix_data(mix), desc="prepare_data", unit="task", total=len(select_tasks(mix))):
            name = data.task
            tasks.append(name)
            for f, items in ((ftrain, data.train), (ftest, data.test)):
                for it in items:
                    f.write(json.dumps({**it.to_dict(), "source": data.source}) + "\n")
            side = split.side(name) if name in split.source_of else "unlisted"
            rows.append({"task": name, "source": data.source, "split_side": side,
                         "n_train": len(data.train), "n_test": len(data.test)})
            n_train, n_test = n_train + len(data.train), n_test + len(data.test)

    _write_counts(out / "counts.csv", rows)
    (out / "tasks.json").write_text(json.dumps(tasks, indent=1))
    wb.log({"prepare_data/n_tasks": len(tasks), "prepare_data/n_train": n_train, "prepare_data/n_test": n_test})
    return {"out_dir": str(out), "n_tasks": len(tasks), "n_train": n_train, "n_test": n_test}


def _write_counts(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["task", "source", "split_side", "n_train", "n_test"])
        writer.writeheader()
        writer.writerows(rows)

