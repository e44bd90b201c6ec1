"""Every experiment overlay composes for every point of its sweep (style.md #3), and the README's SLURM
command gets the resources of its model size. (The CPU sweep itself, `-m experiment=curriculum_ablation
model=tiny`, takes 15 min and was run by hand: experiments/README.md; its pieces are tested in
tests/test_pipeline.py and tests/stages/.)"""

from __future__ import annotations

import itertools

import pytest
import yaml
from omegaconf import OmegaConf

from r1ci.config import CONF_DIR, compose

EXPERIMENTS = sorted((CONF_DIR.parent / "experiments").glob("*.yaml"))


def _sweep(path) -> list[list[str]]:
    params = yaml.safe_load(path.read_text())["hydra"]["sweeper"]["params"]
    keys = list(params)
    return [[f"{k}={v}" for k, v in zip(keys, combo)]
            for combo in itertools.product(*(str(params[k]).split(",") for k in keys))]


def _holds(cfg, key: str, value: str) -> bool:
    """Whether the composed config has a sweep override's choice: a group's option, or a value."""
    if key in ("model", "task_mix"):
        return cfg[key].name == value
    if key == "sft_data":  # a group that writes into `teacher`: every value of the option must be there
        option = yaml.safe_load((CONF_DIR / "sft_data" / f"{value}.yaml").read_text())
        return all(cfg.teacher[k] == v for k, v in option.items())
    if "." in key:
        return str(OmegaConf.select(cfg, key)).lower() == value.lower()
    return cfg[key].kind == value


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_point_of_every_experiment_sweep_composes(path):
    points = _sweep(path)
    assert points, f"{path.name} sweeps nothing"
    for point in points:
        cfg = compose([f"experiment={path.stem}", *point])
        assert cfg.experiment_name == path.stem and cfg.stage.name == "pipeline"
        for override in point:
            key, value = override.split("=")
            assert _holds(cfg, key, value), (path.stem, override)
    # the tiny CPU check the README gives: `model=tiny` on the command line replaces the sizes
    tiny = compose([f"experiment={path.stem}", "model=tiny"])
    assert tiny.model.name == "tiny"


def test_main_experiment_trains_on_the_training_tasks_and_evaluates_on_the_test_tasks():
    cfg = compose(["experiment=main", "model=qwen2.5-7b"])
    assert (cfg.task_mix.name, cfg.curriculum.kind, cfg.pipeline.eval_task_mix) == ("train", "staged", "test")
    assert (cfg.curriculum.n_stages, cfg.curriculum.steps_per_stage) == (4, 150)  # the paper's schedule


def test_readme_7b_ablation_command_on_slurm_gets_the_7b_resources():
    """The README's SLURM command: three array jobs (one per curriculum), each 2 nodes x 8 GPUs."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from r1ci.config import register_configs

    register_configs()
    overrides = ["experiment=curriculum_ablation", "launcher=slurm", "model=qwen2.5-7b",
                 "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=720", "hydra.launcher.max_num_timeout=6"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 8, 8)
    assert (launcher.timeout_min, launcher.max_num_timeout) == (720, 6)
    assert cfg.hydra.sweeper.params.curriculum == "none,staged,difficulty"
    assert cfg.model.name == "qwen2.5-7b" and cfg.stage.name == "pipeline"


@pytest.mark.slow
def test_cold_start_overlay_runs_end_to_end_at_smoke_size(run_launch, tmp_path):
    """`-m experiment=cold_start ... debug=smoke`: both jobs run (5.4 min here); the cold start skips
    synthesis and SFT, its summary has no SFT column, and stage=report tells the two RL runs apart. (The
    other new overlays are compose-only above: their knobs are tested where they act.)"""
    import csv
    import json

    proc = run_launch("-m", "experiment=cold_start", "model=tiny", "task_mix=smoke", "debug=smoke",
                      "pipeline.eval_task_mix=null", f"paths.root={tmp_path}", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "cold_start"
    steps = {tuple(s["step"] for s in json.loads(p.read_text())): p.parent for p in sweep.rglob("steps.json")}
    full = ("prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential", "rl", "eval_rl")
    cold = ("prepare_data", "eval_untrained", "potential", "rl", "eval_rl")
    assert set(steps) == {full, cold}
    with open(steps[cold] / "summary.csv") as f:
        assert list(csv.DictReader(f))[0].keys() == {"source", "task", "untrained", "RL"}
    assert "| SFT |" in (steps[full] / "summary.md").read_text()
    assert len(list((tmp_path / "pipeline" / "steps").glob("prepare_data-*"))) == 1  # shared by both jobs
    report = run_launch("stage=report", f"report.inputs=[{sweep}/**/eval_rl]", "logger=none",
                        f"paths.root={tmp_path}")
    assert report.returncode == 0, report.stderr[-3000:]
    (table,) = tmp_path.rglob("report.md")
    assert "pipeline.cold_start" in table.read_text()  # the swept key labels the two runs
