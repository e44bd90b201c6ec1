"""stage=pipeline's plan: each step's inputs are its predecessors' dirs, shared steps are shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from r1ci.config import PipelineConfig
from r1ci.stages.pipeline import plan


def _steps(user, out="/runs/a", **pipeline):
    kind = next((o.split("=")[1] for o in user if o.startswith("curriculum=")), "staged")
    return {s.name: s for s in plan(user, PipelineConfig(**pipeline), kind, Path(out), Path("/shared"))}


def test_steps_are_wired_to_their_predecessors():
    s = _steps(["model=tiny", "sft.epochs=2", "grpo.steps=3"])
    assert list(s) == ["prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential", "rl", "eval_rl"]
    data, sft, pot, rl = s["prepare_data"].dir, s["sft"].dir, s["potential"].dir, s["rl"].dir
    assert f"paths.input_dir={s['synth'].dir}" in s["sft"].overrides and "sft.epochs=2" in s["sft"].overrides
    assert f"paths.input_dir={data}" in s["synth"].overrides
    assert f"model.path={sft / 'model'}" in s["eval_sft"].overrides
    assert not any(o.startswith("model.path") for o in s["eval_untrained"].overrides)
    assert {f"grpo.init_model={sft / 'model'}", f"curriculum.potential_dir={pot}", "grpo.steps=3",
            "curriculum=staged"} <= set(s["rl"].overrides)  # the pipeline's curriculum reaches RL
    assert f"model.path={rl / 'model'}" in s["eval_rl"].overrides
    assert f"grpo.init_model={sft / 'model'}" in s["potential"].overrides  # p of the model RL starts from


def test_sft_and_grpo_overrides_reach_their_own_step_and_leave_the_others_shared():
    """`python launch.py sft.lr=3e-3 grpo.lr=1e-4`: each reaches the step that reads it (and eval_rl, which
    labels the run); every other step is the same as without them, so a sweep over either shares them."""
    plain = _steps(["model=tiny"])
    s = _steps(["model=tiny", "sft.lr=3e-3", "grpo.lr=1e-4", "curriculum.n_stages=3"])
    have = {name: {o for o in step.overrides if o.startswith(("sft.", "grpo.lr", "curriculum.n"))}
            for name, step in s.items()}
    assert have == {"prepare_data": set(), "synth": set(), "sft": {"sft.lr=3e-3"}, "eval_untrained": set(),
                    "eval_sft": set(), "potential": set(),
                    "rl": {"sft.lr=3e-3", "grpo.lr=1e-4", "curriculum.n_stages=3"},
                    "eval_rl": {"sft.lr=3e-3", "grpo.lr=1e-4", "curriculum.n_stages=3"}}
    assert all(s[n].dir == plain[n].dir for n in ("prepare_data", "synth", "eval_untrained"))
    assert s["sft"].dir != plain["sft"].dir  # and so every step fed by the SFT model
    assert s["potential"].overrides != plain["potential"].overrides
    grpo_only = _steps(["model=tiny", "grpo.lr=1e-4"])
    assert all(grpo_only[n].dir == plain[n].dir for n in ("prepare_data", "synth", "sft", "eval_sft", "potential"))
    assert [st.overrides[0] for st in s.values()] == ["stage=prepare_data", "stage=synth", "stage=sft", "stage=eval",
                                                      "stage=eval", "stage=potential", "stage=rl", "stage=eval"]


def test_cold_start_runs_rl_from_the_untrained_model_without_synth_or_sft():
    """The paper's cold-start ablation: no synthesis, no SFT; p and GRPO start from model.path."""
    s = _steps(["model=tiny"], cold_start=True)
    assert list(s) == ["prepare_data", "eval_untrained", "potential", "rl", "eval_rl"]
    for name in ("potential", "rl"):
        assert not any(o.startswith("grpo.init_model") for o in s[name].overrides)
    assert f"curriculum.potential_dir={s['potential'].dir}" in s["rl"].overrides
    assert "pipeline.cold_start=true" in s["eval_rl"].overrides  # labels the run for stage=report
    warm = _steps(["model=tiny"])
    assert s["prepare_data"].dir == warm["prepare_data"].dir  # the data step is shared with the full method
    assert s["potential"].dir != warm["potential"].dir  # p of another model


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


def test_the_old_trainer_node_on_the_command_line_is_refused(run_launch, tmp_path):
    proc = run_launch("stage=pipeline", "trainer.lr=1e-3", f"paths.root={tmp_path}")
    assert proc.returncode != 0 and "trainer" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "pipeline" / "steps").exists()  # refused before any step ran


def test_steps_are_named_by_their_composed_config_not_by_how_it_was_spelled():
    from r1ci.config import compose
    from r1ci.stages.pipeline import config_identity

    p = compose(["stage=pipeline"]).pipeline
    default = {s.name: s for s in plan([], p, "staged", Path("/runs/a"), Path("/shared"), identity=config_identity)}
    sweep = {s.name: s for s in plan(["model=tiny", "task_mix=smoke", "experiment=curriculum_ablation",
                                      "curriculum=none"], p, "none", Path("/runs/b"), Path("/shared"),
                                     identity=config_identity)}
    for name in ("prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential"):
        assert default[name].dir == sweep[name].dir  # the ablation reuses `python launch.py`'s steps
    other = {s.name: s for s in plan(["task_mix.n_train_per_task=7"], p, "staged", Path("/runs/c"),
                                     Path("/shared"), identity=config_identity)}
    assert all(other[n].dir != default[n].dir for n in ("prepare_data", "synth", "sft", "potential"))
    # the same SFT config fed by other synthesis data is another step (its input dir differs)
    assert config_identity(["stage=sft", "paths.input_dir=/a"]) != config_identity(["stage=sft", "paths.input_dir=/b"])
    assert config_identity(["stage=sft", "paths.input_dir=/a"]) == config_identity(["paths.input_dir=/a", "stage=sft"])


def test_concurrent_jobs_run_a_shared_step_once(tmp_path, monkeypatch):
    """Sweep jobs running at the same time (SLURM array elements) claim a shared step: one runs it, the
    other waits for its step.json and skips it; a failed step leaves no step.json, so a rerun redoes it."""
    import subprocess
    import threading
    import time

    from r1ci.stages import pipeline

    calls = []

    def fake_run(cmd, cwd):
        calls.append(cmd)
        time.sleep(0.5)  # long enough for the other job to find the step claimed
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(pipeline.subprocess, "run", fake_run)
    step = pipeline.Step("prepare_data", "prepare_data", ["stage=prepare_data"], True, tmp_path / "step")
    seconds = []
    jobs = [threading.Thread(target=lambda: seconds.append(pipeline.run_step(step, 1, 1))) for _ in range(2)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    assert len(calls) == 1 and len(seconds) == 2 and seconds[0] == pytest.approx(seconds[1])
    assert (step.dir / pipeline.DONE).exists() and not (step.dir / pipeline.GO).exists()

    monkeypatch.setattr(pipeline.subprocess, "run", lambda cmd, cwd: subprocess.CompletedProcess(cmd, 3))
    failing = pipeline.Step("synth", "synth", ["stage=synth"], True, tmp_path / "failing")
    with pytest.raises(RuntimeError, match="failed \\(exit 3\\).*Rerun the same command"):
        pipeline.run_step(failing, 2, 8)
    assert not (failing.dir / pipeline.DONE).exists()
