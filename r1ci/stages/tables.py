"""Accuracy tables in the paper's format (markdown) and as CSV rows: shared by stage=eval, report and
pipeline.

Numbers are percentages with one decimal, as in the paper's tables; a missing value prints as "-".
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Mapping, Sequence

SOURCE_TITLES = {"symbench": "SymBench", "bbh": "BIG-Bench-Hard", "reasoning_gym": "Reasoning-Gym"}

# The paper's headline numbers (arXiv 2505.21668 v2; shared/paper.md "Results to compare against"):
# accuracy (%) averaged over its 37 test tasks. Our test split is our own (paper.md), so compare trends.
PAPER_RESULTS: tuple[tuple[str, float], ...] = (
    ("Qwen2.5-14B before training", 44.1),
    ("GPT-4o, text only", 58.6),
    ("GPT-4o with its Code Interpreter", 70.9),
    ("R1-CI-14B after SFT", 63.1),
    ("+ GRPO without curriculum", 66.5),
    ("+ GRPO with curriculum (R1-CI-14B)", 72.4),
)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def source_title(source: str) -> str:
    return SOURCE_TITLES.get(source, source)


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def paper_format_table(per_style: Mapping[str, Mapping], source_of: Mapping[str, str],
                       n_items: Mapping[str, int] | None = None) -> str:
    """Rows: tasks grouped by source, each group closed by its average, then the overall average.

    `per_style[style]` is a `r1ci.rollout.metrics.summarize` result (task_accuracy, source_accuracy,
    accuracy); columns are the styles in the given order, after an "items" column (questions per task)
    when `n_items` is given.
    """
    styles = list(per_style)
    sources = list(dict.fromkeys(s for s in SOURCE_TITLES if s in source_of.values()))
    sources += sorted(set(source_of.values()) - set(sources))
    items = (lambda tasks: [str(sum(n_items.get(t, 0) for t in tasks))]) if n_items is not None else (lambda _: [])
    rows: list[list[str]] = []
    for source in sources:
        tasks = sorted(t for t, s in source_of.items() if s == source)
        rows.append([f"*{source_title(source)}*"] + [""] * (len(styles) + len(items([]))))
        rows += [[task] + items([task]) + [pct(per_style[st]["task_accuracy"].get(task)) for st in styles]
                 for task in tasks]
        rows.append([f"**{source_title(source)} average ({len(tasks)} tasks)**"] + items(tasks)
                    + [f"**{pct(per_style[st]['source_accuracy'].get(source))}**" for st in styles])
    rows.append([f"**Overall average ({len(source_of)} tasks)**"] + items(list(source_of))
                + [f"**{pct(per_style[st]['accuracy'])}**" for st in styles])
    return markdown(["Task"] + (["items"] if n_items is not None else []) + styles, rows)


def paper_reference_table() -> str:
    return markdown(["Model / setting (paper, 37 test tasks)", "Accuracy"],
                    [[name, f"{acc:.1f}"] for name, acc in PAPER_RESULTS])


def write_csv(path: Path, rows: Sequence[Mapping], fieldnames: Sequence[str] | None = None) -> None:
    fields = list(fieldnames or (rows[0].keys() if rows else []))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
