"""Improvement potential, partition and schedules on synthetic success rates."""

from __future__ import annotations

import json

import pytest

from r1ci.curriculum.potential import (improvement_potential, partition, staged_by_difficulty,
                                       staged_by_potential)
from r1ci.curriculum.sampler import AllSamples, batch_indices


def test_potential_values():
    assert [improvement_potential(p) for p in (0.0, 0.5, 1.0, 0.2)] == [0.0, 1.0, 0.0, pytest.approx(0.64)]
    with pytest.raises(ValueError):
        improvement_potential(1.5)


def test_partition_equal_groups_highest_first():
    keys = [0.1, 0.9, 0.5, 0.9, 0.0, 0.3, 0.7]
    groups = partition(keys, 3, seed=0)
    assert [len(g) for g in groups] == [3, 2, 2]
    assert set(groups[0]) == {1, 3, 6}  # 0.9, 0.9, 0.7
    assert sorted(i for g in groups for i in g) == list(range(7))
    zeros = partition([0.0] * 8, 4, seed=0)  # all p = 0: still equal groups
    assert [len(g) for g in zeros] == [2, 2, 2, 2] and sorted(i for g in zeros for i in g) == list(range(8))
    assert partition([], 4, seed=0) == [[], [], [], []]
    with pytest.raises(ValueError):
        partition(keys, 0, seed=0)


def test_ties_at_a_group_boundary_are_broken_by_seed_not_manifest_order():
    """20 samples of one source, then 20 of another, all at Pi = 0 (p = 0 or 1), split into 4 stages: the
    first stage must mix both sources, whatever the seed, and follow the seed, not the index order."""
    keys = [0.0] * 40
    firsts = [set(partition(keys, 4, seed=s)[0]) for s in range(5)]
    for first in firsts:
        assert len(first) == 10 and first & set(range(20)) and first & set(range(20, 40))
    assert len({frozenset(f) for f in firsts}) == 5  # another seed, another tie order
    assert partition(keys, 4, seed=3) == partition(keys, 4, seed=3)  # and reproducible
    # ties only reorder within equal keys: a higher key always comes first
    mixed = [0.0] * 10 + [0.5] * 10
    assert set(partition(mixed, 2, seed=1)[0]) == set(range(10, 20))


def test_staged_schedule_releases_cumulatively_and_stays_in_the_last_stage():
    p = [0.5, 0.0, 1.0, 0.4, 0.8, 0.02, 0.45, 0.95]  # Pi: 1, 0, 0, .96, .64, .078, .99, .19
    sched = staged_by_potential(p, n_stages=4, steps_per_stage=10)
    # highest potential first; p = 0 and 1 (tied at Pi = 0) last
    assert [sorted(g) for g in sched.groups] == [[0, 6], [3, 4], [5, 7], [1, 2]]
    assert sched.drawable(0) == (0, [0, 6])
    assert sched.drawable(9)[0] == 0 and sched.drawable(10) == (1, [0, 3, 4, 6])
    assert sched.drawable(39)[1] == list(range(8)) and sched.drawable(1000)[0] == 3  # stage 4 = all data
    assert sched.stage_start(2) == 20


def test_difficulty_orders_by_p_not_potential():
    p = [0.5, 0.0, 1.0, 0.9]
    assert staged_by_difficulty(p, 2, 5).groups == [[2, 3], [0, 1]]  # easiest first
    assert staged_by_potential(p, 2, 5).groups[0][0] == 0  # p = 0.5 has the highest potential


def test_batches_are_a_pure_function_of_the_step_across_a_resume():
    sched = staged_by_potential([i / 20 for i in range(20)], n_stages=4, steps_per_stage=3)
    run = [batch_indices(sched, s, 4, seed=7) for s in range(12)]
    resumed = [batch_indices(sched, s, 4, seed=7) for s in range(5, 12)]  # a fresh process from step 5
    assert run[5:] == resumed
    for s, batch in enumerate(run):
        assert set(batch) <= set(sched.drawable(s)[1])  # only released samples are drawn
    stage0 = [i for s in range(3) for i in run[s]]  # 12 draws from a pool of 5: epochs cycle through it
    assert {stage0.count(i) for i in set(stage0)} <= {2, 3} and set(stage0) == set(sched.drawable(0)[1])


def test_all_samples_epochs_cover_every_sample():
    sched = AllSamples(10)
    first_epoch = [i for s in range(5) for i in batch_indices(sched, s, 2, seed=0)]
    assert sorted(first_epoch) == list(range(10))


def test_online_regroups_on_observed_rates_and_resumes_from_its_state():
    from r1ci.curriculum.potential import OnlineSchedule

    sched = OnlineSchedule(8, n_stages=4, regroup_every=5)
    assert sched.drawable(0) == (0, list(range(8)))  # round 0: everything
    for s in range(8):  # samples 0-3 seen: always right, always wrong, half, half; 4-7 unseen (p = 0.5)
        if s < 4:
            sched.observe(s, 4, [4, 0, 2, 2][s])
    assert sched.drawable(4) == (0, list(range(8)))  # still round 0
    stage, pool = sched.drawable(5)
    assert stage == 1 and len(pool) == 2 and set(pool) <= set(range(2, 8))  # top quarter by Pi: p = 0.5
    saved = json.loads(json.dumps(sched.state_dict()))  # what a checkpoint stores
    fresh = OnlineSchedule(8, n_stages=4, regroup_every=5)
    fresh.load_state_dict(saved)
    assert [batch_indices(fresh, s, 2, seed=3) for s in range(6, 10)] == \
        [batch_indices(sched, s, 2, seed=3) for s in range(6, 10)]
    with pytest.raises(ValueError):
        fresh.drawable(0)  # a step of an earlier round: the schedule only moves forward


def test_online_starts_from_an_estimate_when_given():
    from r1ci.curriculum.potential import OnlineSchedule

    sched = OnlineSchedule(4, n_stages=2, regroup_every=3, initial_p=[0.0, 0.5, 1.0, 0.4])
    assert sched.drawable(0) == (0, [1, 3])


def test_build_schedule_per_kind_and_clear_errors(tmp_path):
    from r1ci.config import compose
    from r1ci.curriculum import build_schedule
    from r1ci.curriculum.potential import OnlineSchedule, StagedSchedule
    from r1ci.tasks import TaskItem

    items = [TaskItem(f"t-{i}", "gcd", "q", "1") for i in range(6)]
    (tmp_path / "potential.jsonl").write_text("".join(
        json.dumps({"item_id": f"t-{i}", "p": p}) + "\n" for i, p in enumerate([0, .5, 1, .2, .9, .5])))
    assert isinstance(build_schedule(compose(["curriculum=none"]), items), AllSamples)
    staged = build_schedule(compose(["curriculum=staged", f"curriculum.potential_dir={tmp_path}",
                                     "curriculum.n_stages=3"]), items)
    assert isinstance(staged, StagedSchedule) and sorted(staged.groups[0]) == [1, 5]
    difficulty = build_schedule(compose(["curriculum=difficulty", f"curriculum.potential_dir={tmp_path}",
                                         "curriculum.n_stages=3"]), items)
    assert difficulty.groups[0] == [2, 4]  # easiest first
    assert isinstance(build_schedule(compose(["curriculum=online"]), items), OnlineSchedule)
    with pytest.raises(ValueError, match="potential_dir"):
        build_schedule(compose(["curriculum=staged"]), items)
    with pytest.raises(ValueError, match="no p for 1"):
        build_schedule(compose(["curriculum=staged", f"curriculum.potential_dir={tmp_path}"]),
                       items + [TaskItem("t-new", "gcd", "q", "1")])
