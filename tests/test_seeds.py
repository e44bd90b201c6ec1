"""r1ci/seeds.py: the one home of derived seeds. Their values are part of every committed result (items,
rollouts), so a change to them is a change of results: these tests pin them."""

import pytest

from r1ci.seeds import grid_seed, hashed_seed, sample_seed, split_turn_seed, turn_seed


def test_sample_seeds_are_stable_and_distinct():
    seeds = {sample_seed(0, f"item-{i}", k) for i in range(100) for k in range(3)}
    assert len(seeds) == 300 and max(seeds) < 2**31
    assert sample_seed(0, "item-1", 0) == sample_seed(0, "item-1", 0)
    assert sample_seed(1, "item-1", 0) != sample_seed(0, "item-1", 0)


def test_hashed_seeds_are_pinned():
    """The values the items and eval samples have been drawn with (computed by the code before seeds had
    this home): a new hash or separator would silently draw other items and other tokens."""
    assert hashed_seed(0, "gcd", "train") == 1454365216
    assert sample_seed(3, "gcd-7", 2) == 1505892457


def test_grid_seeds_number_the_jobs_row_major_and_turns_unpack():
    batch, group = 4, 3
    seeds = [grid_seed((step, k, j), (batch, group)) for step in range(2) for k in range(batch) for j in range(group)]
    assert seeds == list(range(2 * batch * group))  # distinct, and independent of which rank runs a job
    with pytest.raises(ValueError, match="one more axis"):
        grid_seed((1, 2), (4, 3))
    assert split_turn_seed(turn_seed(seeds[-1], 5)) == (seeds[-1], 5)
