"""Stage report: eval runs -> one comparison table (markdown + CSV) and a bar plot, beside the paper's.

    python launch.py stage=report 'report.inputs=[outputs/multirun/curriculum_ablation]'
    python launch.py stage=report 'report.inputs=["outputs/eval/*"]'

Each entry of `report.inputs` is a run dir, a sweep dir or a glob; every `metrics.json` written by
stage=eval below it is one run. A run is labelled by `report.label_keys` (model, task mix, curriculum)
plus every config key whose value differs between the runs (the sweep's overrides, found from each run's
saved config, not from its path). Accuracies are the eval stage's macro averages over tasks.

Files in the run dir: report.md (a table per style + the paper's reference table), report.csv (a row per
run: labels, then <style>/<source> and <style>/overall accuracy), report.png (bars per source per setting).
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1ci.config import Config
from r1ci.tracking import NO_RUN, NullRun
from r1ci.stages.tables import markdown, paper_reference_table, pct, source_title, write_csv
from r1ci.runtime import output_dir
from r1ci.tasks import SOURCES

# Config groups that never tell runs apart scientifically (where they ran, how they logged).
IGNORED_PREFIXES = ("paths.", "logger.", "stage.", "report.", "hydra.")


@dataclass
class EvalRun:
    name: str  # its dir, relative to the runs' common parent
    path: Path
    settings: dict  # its saved config, flattened: dotted key -> value
    metrics: dict  # the eval stage's metrics.json


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    # compose: the runs, their labels, the union of their styles and sources
    out = output_dir(cfg)
    runs = load_runs(find_metrics(list(cfg.report.inputs)))
    label_keys = list(cfg.report.label_keys)
    setting_keys = differing_keys([r.settings for r in runs], label_keys)
    styles = list(dict.fromkeys(s for r in runs for s in r.metrics["styles"]))
    sources = [s for s in SOURCES if any(s in r.metrics["sources"].values() for r in runs)]
    rows = comparison_rows(runs, label_keys, setting_keys, styles, sources)
    # write
    write_csv(out / "report.csv", rows)
    (out / "report.md").write_text(report_markdown(rows, label_keys, styles, sources))
    plot(rows, [_column(k) for k in label_keys], styles, sources, out / "report.png")
    if not isinstance(wb, NullRun):
        import wandb

        cols = list(rows[0])
        wb.log({"report/table": wandb.Table(columns=cols, data=[[r[c] for c in cols] for r in rows]),
                "report/plot": wandb.Image(str(out / "report.png"))})
    return {"n_runs": len(runs), "out_dir": str(out), "table": str(out / "report.md")}


def find_metrics(inputs: list[str]) -> list[Path]:
    """metrics.json files of eval runs under each input (a dir, a file or a glob), sorted, deduplicated."""
    if not inputs:
        raise ValueError("report.inputs: give at least one eval run dir, sweep dir or glob")
    found: set[Path] = set()
    for entry in inputs:
        hits = glob.glob(entry, recursive=True)
        if not hits:  # a typo'd path must not silently shrink the comparison
            raise ValueError(f"report.inputs: {entry!r} matches no file or directory")
        for hit in map(Path, hits):
            candidates = hit.rglob("metrics.json") if hit.is_dir() else [hit]
            found.update(p.resolve() for p in candidates if p.name == "metrics.json" and _is_eval(p))
    if not found:
        raise ValueError(f"report.inputs: no eval metrics.json found under {inputs}")
    return sorted(found)


def _is_eval(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("kind") == "eval"
    except (OSError, ValueError):
        return False


def load_runs(paths: list[Path]) -> list[EvalRun]:
    dirs = [p.parent for p in paths]
    common = Path(*_common_parts([d.parts for d in dirs])) if len(dirs) > 1 else dirs[0].parent
    runs = []
    for p, d in zip(paths, dirs):
        metrics = json.loads(p.read_text())
        runs.append(EvalRun(str(d.relative_to(common)), d, flatten(metrics["config"]), metrics))
    return runs


def _common_parts(parts: list[tuple[str, ...]]) -> tuple[str, ...]:
    common: list[str] = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    return tuple(common[: min(len(p) for p in parts) - 1])  # keep at least the run dir's own name


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested config -> {"a.b": value}; lists become their JSON text so they compare and print as one."""
    flat: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return flat


def differing_keys(configs: list[dict], label_keys: list[str]) -> list[str]:
    """Science keys whose values differ between the runs that have them (a key that only newer runs have
    is schema growth, not a setting), minus those a differing label key already explains (model.path
    when model.name differs)."""
    def differs(key: str) -> bool:
        return len({json.dumps(c[key], default=str) for c in configs if key in c}) > 1

    keys = sorted({k for c in configs for k in c if not k.startswith(IGNORED_PREFIXES)} - set(label_keys))
    explained = {k.rsplit(".", 1)[0] for k in label_keys if differs(k)}
    return [k for k in keys if differs(k) and k.rsplit(".", 1)[0] not in explained]


def _column(key: str) -> str:
    """Short column title of a label key: model.name -> model, curriculum.kind -> curriculum."""
    head, _, tail = key.rpartition(".")
    return head if head and tail in ("name", "kind") else key


def comparison_rows(runs: list[EvalRun], label_keys: list[str], setting_keys: list[str], styles: list[str],
                    sources: list[str]) -> list[dict]:
    """A row per run: labels, the setting (differing keys), then accuracy per style x (sources, overall)."""
    rows = []
    for r in runs:
        row: dict = {"run": r.name, **{_column(k): r.settings.get(k) for k in label_keys}}
        row["setting"] = ", ".join(f"{k}={r.settings.get(k)}" for k in setting_keys)
        for style in styles:
            m = r.metrics["styles"].get(style, {})
            for source in sources:
                row[f"{style}/{source}"] = m.get("source_accuracy", {}).get(source)
            row[f"{style}/overall"] = m.get("accuracy")
            row[f"{style}/n_scored"] = m.get("n_scored")
        rows.append(row)
    order = [_column(k) for k in label_keys] + ["setting", "run"]
    return sorted(rows, key=lambda row: [str(row[c]) for c in order])


def report_markdown(rows: list[dict], label_keys: list[str], styles: list[str], sources: list[str]) -> str:
    labels = ["run"] + [_column(k) for k in label_keys] + ["setting"]
    parts = [f"# Eval comparison: accuracy (%), macro average over tasks, {len(rows)} runs\n"]
    for style in styles:
        header = labels + [source_title(s) for s in sources] + ["Overall", "n"]
        body = [[str(r[c]) for c in labels] + [pct(r[f"{style}/{s}"]) for s in sources]
                + [pct(r[f"{style}/overall"]), str(r[f"{style}/n_scored"])] for r in rows]
        parts.append(f"## Style: {style}\n\n" + markdown(header, body))
    parts.append("## Paper reference (arXiv 2505.21668 v2, its own 37 test tasks; our split differs)\n\n"
                 + paper_reference_table())
    return "\n".join(parts)


def legend_names(rows: list[dict], label_columns: list[str]) -> list[str]:
    """What tells each run apart: the label columns whose values differ (curriculum=staged), else the
    differing settings, else the run dir."""
    differing = [c for c in label_columns if len({str(r[c]) for r in rows}) > 1]
    if differing:
        return [", ".join(f"{c}={r[c]}" for c in differing) for r in rows]
    return [r["setting"] or r["run"] for r in rows]


def plot(rows: list[dict], label_columns: list[str], styles: list[str], sources: list[str], path: Path) -> None:
    """Grouped bars: a group per source (and overall), a bar per setting (run x style); colour = run,
    hatch = style; each bar is annotated with its value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sources + ["overall"]
    bars = [(i, r, s) for i, r in enumerate(rows) for s in styles]
    names = legend_names(rows, label_columns)
    width = 0.8 / len(bars)
    colours, hatches = plt.get_cmap("tab10").colors, ["", "//", "..", "xx"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 + 0.4 * len(groups) * len(bars)), 5.0))
    for j, (i, row, style) in enumerate(bars):
        values = [100 * (row[f"{style}/{g}"] or 0.0) for g in groups]
        xs = [g + (j - (len(bars) - 1) / 2) * width for g in range(len(groups))]
        label = f"{names[i]} [{style}]"
        drawn = ax.bar(xs, values, width, label=label, color=colours[i % len(colours)],
                       hatch=hatches[styles.index(style) % len(hatches)], edgecolor="white")
        ax.bar_label(drawn, fmt="%.0f", fontsize=7)
    ticks = ["-\n".join(source_title(g).rsplit("-", 1)) if g != "overall" else "Overall" for g in groups]
    ax.set_xticks(range(len(groups)), ticks)
    ax.set(ylabel="accuracy (%)", ylim=(0, 105), title="Accuracy per source and setting")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=min(2, len(bars)))
    fig.savefig(path, dpi=120, bbox_inches="tight")  # "tight" keeps the legend below the axes in the file
    plt.close(fig)
