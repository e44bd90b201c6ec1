"""Config composition: every option composes, bad values fail naming the key, paper values are pinned."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from r1ci.config import CONF_DIR, GROUP_SCHEMAS, ConfigError, compose, run_id, validate

GROUPS = [g for g in GROUP_SCHEMAS] + ["launcher"]
SELECTED_BY = {"stage": "name", "model": "name", "task_mix": "name", "curriculum": "kind", "sandbox": "kind",
               "engine": "kind", "logger": "kind", "teacher": "kind"}
TEACHER_KIND = {"gpt4o": "model"}  # teacher options named after the model they use


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_of_every_group_composes(group, option):
    cfg = compose([f"{group}={option}"])
    if group in SELECTED_BY:  # the option file is really selected, not silently the default
        assert cfg[group][SELECTED_BY[group]] == TEACHER_KIND.get(option, option)


@pytest.mark.parametrize("model,curriculum", list(itertools.product(options("model"), options("curriculum"))))
def test_every_model_size_with_every_curriculum(model, curriculum):
    cfg = compose([f"model={model}", f"curriculum={curriculum}"])
    assert cfg.model.name == model and cfg.curriculum.kind == curriculum
    assert OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


def test_model_sizes_use_real_qwen_ids_and_per_size_settings():
    ids = {m: compose([f"model={m}"]).model for m in ("qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b")}
    assert ids["qwen2.5-3b"].path == "Qwen/Qwen2.5-3B-Instruct"
    assert ids["qwen2.5-7b"].path == "Qwen/Qwen2.5-7B-Instruct"
    assert ids["qwen2.5-14b"].path == "Qwen/Qwen2.5-14B-Instruct"
    assert ids["qwen2.5-14b"].tensor_parallel_size > ids["qwen2.5-3b"].tensor_parallel_size
    assert all(m.dtype == "bfloat16" and m.zero_stage == 3 for m in ids.values())


@pytest.mark.parametrize("model", ["qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b"])
def test_paper_hyperparameters_are_the_defaults_of_the_paper_models(model):
    cfg = validate(compose([f"model={model}"]))
    grpo, sft = cfg.grpo, cfg.sft
    assert (grpo.lr, grpo.group_size, grpo.kl_coef, grpo.global_batch_size, grpo.temperature) == (
        1e-6, 5, 0.001, 128, 1.0)
    assert (sft.lr, sft.epochs, sft.global_batch_size, sft.backend) == (1e-5, 3, 32, "deepspeed")
    assert cfg.sandbox.timeout_s == 60 and cfg.rollout.max_code_calls == 8 and cfg.engine.temperature == 0.6
    r = cfg.rollout.reward
    assert (r.correct, r.format, r.long_penalty, r.long_turns) == (1.0, 0.1, 0.1, 6)
    assert (cfg.teacher.max_per_task, cfg.teacher.shape_check) == (70, 0.3)
    # the response budget is the whole trajectory's (paper: ~7k cutoff), not a per-segment cap
    assert cfg.rollout.max_tokens_per_turn is None and cfg.rollout.max_response_tokens == cfg.model.max_response_len
    assert (grpo.updates_per_batch, grpo.mask_interpreter, cfg.teacher.keep_incorrect) == (1, True, False)
    staged = compose([f"model={model}", "curriculum=staged"]).curriculum
    assert (staged.n_stages, staged.steps_per_stage, len(staged.styles) * len(staged.temperatures)) == (4, 150, 20)


def test_the_tiny_model_gets_its_own_scale_and_the_command_line_still_wins():
    cfg = compose(["model=tiny", "stage=sft"])
    assert (cfg.sft.lr, cfg.sft.epochs, cfg.sft.backend) == (3e-3, 25, "torch")
    assert compose(["model=tiny", "stage=sft", "sft.lr=1e-5"]).sft.lr == 1e-5
    rl = compose(["model=tiny", "stage=rl", "curriculum=staged"])
    assert (rl.grpo.lr, rl.curriculum.n_stages, rl.curriculum.steps_per_stage) == (1e-4, 2, 10)
    assert rl.curriculum.kind == "staged" and rl.teacher.shape_check == 0.0
    smoke = compose(["model=tiny", "debug=smoke"])  # debug overlays win over the scale
    assert (smoke.sft.epochs, smoke.grpo.steps, smoke.sft.global_batch_size, smoke.grpo.global_batch_size) == (1, 2, 4, 4)


def test_sft_and_grpo_are_separate_nodes_so_each_override_says_which():
    cfg = compose(["sft.lr=3e-3", "grpo.lr=1e-4"])  # the example, on any stage
    assert (cfg.sft.lr, cfg.grpo.lr) == (3e-3, 1e-4)
    assert compose(["stage=sft", "grpo.lr=5e-5"]).sft.lr == 3e-3  # the tiny scale's, untouched


def test_every_model_size_has_a_scale_and_an_unknown_scale_is_an_error():
    assert options("scale") == options("model")
    with pytest.raises(Exception, match="scale"):
        compose(["scale=qwen2.5-9b"])


def test_gradient_accumulation_reaches_the_paper_batch():
    cfg = validate(compose(["model=qwen2.5-14b"]))
    m = cfg.model
    assert m.micro_batch_size * m.n_gpus * cfg.sft.gradient_accumulation_steps >= cfg.sft.global_batch_size
    rollouts = cfg.grpo.global_batch_size * cfg.grpo.group_size
    assert m.micro_batch_size * m.n_gpus * cfg.grpo.gradient_accumulation_steps >= rollouts


def test_composed_config_snapshots_are_current_and_catch_a_change(monkeypatch):
    """conf/snapshots/ holds the composed configs of the main entry points (r1ci/snapshots.py); an
    unreviewed change to a default or a YAML file makes them differ."""
    from r1ci import snapshots

    assert snapshots.drifted() == [], "run `python -m r1ci.snapshots --write` after reviewing the change"
    composed_now = snapshots.compose
    monkeypatch.setattr(snapshots, "compose", lambda overrides: composed_now([*overrides, "grpo.kl_coef=0.5"]))
    assert snapshots.drifted() == list(snapshots.ENTRY_POINTS)  # one changed value: every snapshot differs


@pytest.mark.parametrize("override,key", [
    ("grpo.lr=abc", "grpo.lr"),
    ("trainer.lr=1e-3", "trainer"),  # the old single node is gone: sft.* or grpo.*
    ("sandbox.timeout_s=-1", "sandbox.timeout_s"),
    ("model=qwen2.5-9b", "model"),
    ("curriculum.n_stages=0", "curriculum.n_stages"),
    ("stage=not_a_stage", "stage"),
    ("sft.lrr=1", "lrr"),
    ("sandbox.kind=docker", "sandbox.kind"),
])
def test_bad_override_exits_nonzero_naming_the_key(repo_root, override, key):
    proc = subprocess.run([sys.executable, "launch.py", override], cwd=repo_root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert key in proc.stderr + proc.stdout


def test_compose_raises_config_error_for_bad_values():
    with pytest.raises(ConfigError, match="curriculum.n_stages"):
        compose(["curriculum.n_stages=0"])


def test_run_id_ignores_logger_and_paths_but_not_science():
    base = run_id(compose([]))
    assert run_id(compose(["logger=none", "paths.root=/elsewhere"])) == base
    assert run_id(compose(["grpo.lr=2e-6"])) != base
    assert run_id(compose(["model=qwen2.5-7b"])) != base
