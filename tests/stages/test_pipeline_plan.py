"""stage=pipeline's plan: each step's inputs are its predecessors' dirs, shared steps are shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from r1ci.stages.pipeline import plan


def _steps(user, out="/runs/a", **pipeline):
    p = OmegaConf.create({"synth_overrides": [], "sft_overrides": ["trainer.epochs=2"],
                          "rl_overrides": ["trainer.steps=3"], "eval_task_mix": None, **pipeline})
    kind = next((o.split("=")[1] for o in user if o.startswith("curriculum=")), "staged")
    return {s.name: s for s in plan(user, p, kind, Path(out), Path("/shared"))}


def test_steps_are_wired_to_their_predecessors():
    s = _steps(["model=tiny"])
    assert list(s) == ["prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential", "rl", "eval_rl"]
    data, sft, pot, rl = s["prepare_data"].dir, s["sft"].dir, s["potential"].dir, s["rl"].dir
    assert f"paths.input_dir={s['synth'].dir}" in s["sft"].overrides and "trainer.epochs=2" in s["sft"].overrides
    assert f"paths.input_dir={data}" in s["synth"].overrides
    assert f"model.path={sft / 'model'}" in s["eval_sft"].overrides
    assert not any(o.startswith("model.path") for o in s["eval_untrained"].overrides)
    assert {f"trainer.init_model={sft / 'model'}", f"curriculum.potential_dir={pot}", "trainer.steps=3",
            "curriculum=staged"} <= set(s["rl"].overrides)  # the pipeline's curriculum reaches RL
    assert f"model.path={rl / 'model'}" in s["eval_rl"].overrides
    assert all(o.split("=")[0] != "trainer.steps" for name in ("sft", "potential") for o in s[name].overrides)
    assert [st.overrides[0] for st in s.values()] == ["stage=prepare_data", "stage=synth", "stage=sft", "stage=eval",
                                                      "stage=eval", "stage=potential", "stage=rl", "stage=eval"]


def test_eval_on_another_task_mix_generates_its_items():
    s = _steps(["model=tiny", "task_mix=train"], eval_task_mix="test")
    assert "task_mix=train" in s["rl"].overrides and "task_mix=train" in s["sft"].overrides
    for name in ("eval_untrained", "eval_sft", "eval_rl"):
        assert [o for o in s[name].overrides if o.startswith("task_mix")] == ["task_mix=test"]  # the eval's wins
        assert not any(o.startswith("paths.input_dir") for o in s[name].overrides)


def test_a_curriculum_sweep_shares_every_step_before_rl():
    none = _steps(["model=tiny", "curriculum=none"], out="/runs/none")
    staged = _steps(["model=tiny", "curriculum=staged", "curriculum.steps_per_stage=4"], out="/runs/staged")
    for name in ("prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential"):
        assert none[name].dir == staged[name].dir and none[name].dir.parent == Path("/shared")
    assert none["rl"].dir == Path("/runs/none/rl") and staged["rl"].dir == Path("/runs/staged/rl")
    assert [o for o in staged["rl"].overrides if o.startswith("curriculum=")] == ["curriculum=staged"]
    assert [o for o in none["rl"].overrides if o.startswith("curriculum=")] == ["curriculum=none"]
    other_mix = _steps(["model=tiny", "task_mix=bbh"])
    assert other_mix["prepare_data"].dir != none["prepare_data"].dir  # anything else: its own steps


def test_trainer_overrides_on_the_command_line_are_refused(run_launch, tmp_path):
    proc = run_launch("stage=pipeline", "trainer.lr=1e-3", f"paths.root={tmp_path}")
    assert proc.returncode == 2 and "pipeline.sft_overrides" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "pipeline" / "steps").exists()  # refused before any step ran


def test_pipeline_override_lists_are_validated():
    from r1ci.config import ConfigError, compose

    with pytest.raises(ConfigError, match="pipeline"):
        compose(["stage=pipeline", "pipeline.rl_overrides=['stage=sft']"])
