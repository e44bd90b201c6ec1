"""conf/launcher/*: the composed hydra/launcher settings (no cluster needed)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from r1ci.config import CONF_DIR, register_configs, run_id

SIZES = ("qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b")


def _compose(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("size", SIZES)
def test_slurm_resources_follow_the_model_size(size):
    cfg = _compose("launcher=slurm", f"model={size}")
    la = cfg.hydra.launcher
    assert la._target_.endswith("SlurmLauncher")
    assert la.nodes * la.gpus_per_node == cfg.model.n_gpus  # the paper's GPU count for this size
    assert la.tasks_per_node == la.gpus_per_node  # one SLURM task per GPU (docs/slurm.md)
    assert la.max_num_timeout > 0  # hydra-submitit's default 0 never requeues a timed-out job
    assert 0 < la.signal_delay_s < la.timeout_min * 60


def test_bigger_models_get_more_time_to_checkpoint():
    delays = [_compose("launcher=slurm", f"model={s}").hydra.launcher.signal_delay_s for s in SIZES]
    assert delays == sorted(delays)


def test_slurm_local_targets_the_test_cluster():
    la = _compose("launcher=slurm_local").hydra.launcher
    assert (la.partition, la.nodes, la.tasks_per_node, la.cpus_per_task) == ("local", 1, 1, 1)
    assert la.gpus_per_node is None and la.max_num_timeout > 0


def test_launcher_does_not_change_the_run_id():
    """Output dir and W&B run are named by the science config; where it runs is not science."""
    launchers = ("local", "slurm", "slurm_local")
    ids = {run_id(_compose(f"launcher={name}", "model=qwen2.5-7b")) for name in launchers}
    assert len(ids) == 1


def test_config_lists_launcher_before_model():
    """Hydra resolves `resources@hydra.launcher: ${model}` (launcher/slurm.yaml) only if the primary
    defaults list names `launcher` before `model`: it expands defaults last to first."""
    lines = (CONF_DIR / "config.yaml").read_text().splitlines()
    groups = [line.strip().split(":")[0].lstrip("- ") for line in lines if line.startswith("  - ")]
    assert groups.index("launcher") < groups.index("model"), (
        "conf/config.yaml: move `- launcher: local` above `- model: tiny` (docs/slurm.md)")
