"""Improvement potential, partition and schedules on synthetic success rates."""

from __future__ import annotations

import pytest

from r1ci.curriculum.potential import (improvement_potential, partition, staged_by_difficulty,
                                       staged_by_potential)
from r1ci.curriculum.sampler import AllSamples, batch_indices


def test_potential_values():
    assert [improvement_potential(p) for p in (0.0, 0.5, 1.0, 0.2)] == [0.0, 1.0, 0.0, pytest.approx(0.64)]
    with pytest.raises(ValueError):
        improvement_potential(1.5)


def test_partition_equal_groups_highest_first_and_stable_ties():
    keys = [0.1, 0.9, 0.5, 0.9, 0.0, 0.3, 0.7]
    groups = partition(keys, 3)
    assert [len(g) for g in groups] == [3, 2, 2]
    assert groups[0] == [1, 3, 6]  # 0.9, 0.9 (index order), 0.7
    assert sorted(i for g in groups for i in g) == list(range(7))
    assert partition([0.0] * 8, 4) == [[0, 1], [2, 3], [4, 5], [6, 7]]  # all p = 0: still equal groups
    assert partition([], 4) == [[], [], [], []]
    with pytest.raises(ValueError):
        partition(keys, 0)


def test_staged_schedule_releases_cumulatively_and_stays_in_the_last_stage():
    p = [0.5, 0.0, 1.0, 0.4, 0.8, 0.02, 0.45, 0.95]  # Pi: 1, 0, 0, .96, .64, .078, .99, .19
    sched = staged_by_potential(p, n_stages=4, steps_per_stage=10)
    assert sched.groups == [[0, 6], [3, 4], [7, 5], [1, 2]]  # highest potential first; p = 0 and 1 last
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
