"""stage=synth with the oracle teacher: real sandbox runs, only correct trajectories kept, capped per task."""

from __future__ import annotations

import json

from r1ci.rollout.conversation import validate_messages
from r1ci.rollout.trajectory import Trajectory
from r1ci.stages.synth import select
from r1ci.tasks import TaskItem, extract_answer, get_task

TASKS = "task_mix.tasks=[number_multiply,string_insertion,game24]"


def test_oracle_synthesis_writes_correct_multi_turn_conversations(run_launch, tmp_path):
    # 16 training items per task: the teacher answers its SFT share, 8 (the rest are RL's)
    proc = run_launch("stage=synth", "teacher=oracle", TASKS, "task_mix.n_train_per_task=16", "teacher.items_per_task=null",
                      "teacher.max_per_task=6", "teacher.shape_direct=0.4", "teacher.shape_fix=0.3",
                      "teacher.shape_check=0.3", f"paths.root={tmp_path}", "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sft,) = tmp_path.rglob("sft.jsonl")
    rows = [json.loads(line) for line in sft.read_text().splitlines()]
    per_task = {t: sum(r["task"] == t for r in rows) for t in ("number_multiply", "string_insertion", "game24")}
    assert all(0 < n <= 6 for n in per_task.values()), per_task  # capped, every task represented
    shapes = set()
    for r in rows:
        validate_messages(r["messages"])
        interp = [m["content"] for m in r["messages"] if m["role"] == "interpreter"]
        assert interp and all(m.startswith("Code Execution Results:") for m in interp)  # real executions
        answer = extract_answer(r["messages"][-1]["content"])
        task = get_task(r["task"])
        item = TaskItem.from_dict(next(d for d in _items(tmp_path) if d["id"] == r["item_id"]))
        assert task.score(answer, item) == 1.0
        shapes.add("fix" if "Error" in interp[0] else "check" if "check passed" in "".join(interp) else "direct")
    assert shapes == {"direct", "fix", "check"}
    stats = (sft.parent / "stats.csv").read_text()
    assert stats.startswith("task,n_items,n_trajectories,n_correct,n_kept,n_kept_multi_turn")


def _items(tmp_path):
    """The train items synth used (regenerated exactly as the stage does)."""
    from r1ci.config import compose
    from r1ci.tasks.mix import load_items

    cfg = compose([TASKS, "task_mix.n_train_per_task=16"])
    return [it.to_dict() for it in load_items(cfg, "train")]


def _traj(task: str, code_calls: int, text: str) -> Trajectory:
    t = Trajectory(item_id=text, task=task)
    t.add_model([1], [0.0], text, "stop")
    t.exec_results = [object()] * code_calls
    return t


class _Job:
    def __init__(self, task, question):
        self.item = TaskItem(id=question, task=task, question=question, answer=None)


def test_select_caps_dedupes_and_prefers_multi_turn():
    pairs = []
    for i in range(200):
        multi = i % 2 == 0
        pairs.append((_traj("a", 2 if multi else 1, f"resp{i}"), _Job("a", f"q{i}")))
    pairs.append((_traj("a", 1, "resp1"), _Job("a", "q1")))  # exact duplicate of pair 1
    kept = select(pairs, cap=40, multi_turn_weight=4.0, seed=0)
    assert len(kept) == 40
    assert len({(j.item.question, t.model_text) for t, j in kept}) == 40
    share_multi = sum(t.code_calls >= 2 for t, _ in kept) / len(kept)
    assert share_multi > 0.7  # 4x weight on half the pool
    assert select(pairs, 40, 4.0, seed=0) == kept  # seeded
    assert len(select(pairs, cap=1000, multi_turn_weight=1.0, seed=0)) == 200  # only the duplicate dropped


def test_teacher_items_can_outnumber_the_rl_set_but_never_touch_the_test_side():
    from r1ci.config import compose
    from r1ci.stages.synth import teacher_items
    from r1ci.tasks.mix import load_items, training_items

    base = ["task_mix=smoke", "task_mix.tasks=[boolean_expressions,gcd]", "task_mix.n_train_per_task=5",
            "task_mix.n_test_per_task=40"]
    cfg = compose([*base, "teacher.items_per_task=200"])
    items = teacher_items(cfg)
    test = {it.question for it in load_items(cfg, "test")}
    train = {it.question for it in load_items(cfg, "train")}
    assert len(test) > 40 and len(train) == 10
    assert not {it.question for it in items} & (test | train)  # apart from RL's samples and the test side
    per_task = {t: sum(it.task == t for it in items) for t in ("boolean_expressions", "gcd")}
    assert 150 < per_task["boolean_expressions"] < 200 and 180 < per_task["gcd"] <= 200, per_task
    # with it, RL draws every training item
    assert [it.id for it in training_items(cfg, "rl")] == [it.id for it in load_items(cfg, "train")]


def test_sft_and_rl_draw_disjoint_training_items_by_default():
    """Paper: SFT and RL use different items. Without teacher.items_per_task, each task's training items
    are split by a seeded share: synthesis answers one part, RL and its p estimate draw the other."""
    from r1ci.config import compose
    from r1ci.stages.synth import teacher_items
    from r1ci.tasks.mix import load_items, training_items

    cfg = compose(["task_mix=smoke", "teacher.items_per_task=null", "task_mix.n_train_per_task=10"])
    train = load_items(cfg, "train")
    sft, rl = teacher_items(cfg), training_items(cfg, "rl")
    assert {it.id for it in sft}.isdisjoint({it.id for it in rl})
    assert sorted(it.id for it in sft + rl) == sorted(it.id for it in train)
    for task in cfg.task_mix.tasks:  # half of every task's items each way, not whole tasks
        assert sum(it.task == task for it in sft) == sum(it.task == task for it in rl) == 5
    assert [it.id for it in training_items(cfg, "sft")] == [it.id for it in sft]
    other = compose(["task_mix=smoke", "teacher.items_per_task=null", "task_mix.n_train_per_task=10", "task_mix.seed=1"])
    assert {it.id for it in training_items(other, "sft")} != {it.id for it in sft}  # seeded by the mix


def test_keep_incorrect_is_the_ablation_that_keeps_wrong_well_formed_trajectories():
    from r1ci.config import RewardConfig
    from r1ci.stages.synth import _keep

    item = get_task("multistep_arithmetic_two").generate(1, seed=0)[0]
    right, wrong = _traj(item.task, 0, f"<<<{item.answer}>>>"), _traj(item.task, 0, "<<<-123456>>>")
    for t in (right, wrong):
        t.final_answer = extract_answer(t.model_text)
    messy = _traj(item.task, 0, "no answer at all")
    assert [_keep(t, item, RewardConfig()) for t in (right, wrong, messy)] == [True, False, False]
    assert [_keep(t, item, RewardConfig(), keep_incorrect=True) for t in (right, wrong, messy)] == [True, True, False]
