"""The committed split manifest: 144 tasks, 107/37, stratified by source, reproducible, all registered."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from r1ci.tasks import list_tasks, load_split
from r1ci.tasks.split import DEFAULT_MANIFEST, all_task_slots, make_split


def test_manifest_has_144_tasks_split_107_37_by_source():
    split = load_split()
    assert (len(split.train), len(split.test)) == (107, 37)
    assert not set(split.train) & set(split.test)
    by_source = Counter(split.source_of.values())
    assert by_source == {"symbench": 33, "bbh": 27, "reasoning_gym": 84}
    assert Counter(split.source_of[n] for n in split.test) == {"symbench": 9, "bbh": 7, "reasoning_gym": 21}


def test_committed_manifest_is_what_the_generator_gives():
    committed = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    assert committed == make_split(all_task_slots(), seed=committed["seed"])


def test_every_manifest_task_is_registered_under_its_source():
    split = load_split()
    for source in ("symbench", "bbh", "reasoning_gym"):
        assert sorted(n for n, s in split.source_of.items() if s == source) == list_tasks(source)


def test_another_manifest_can_be_loaded(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"train": {"bbh": ["navigate"]}, "test": {"bbh": ["snarks"]}}))
    split = load_split(path)
    assert split.train == ("navigate",) and split.test == ("snarks",) and split.tasks("all") == ["navigate", "snarks"]


def test_bad_manifests_fail_clearly(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text(yaml.safe_dump({"train": {"bbh": ["navigate"]}, "test": {"bbh": ["navigate"]}}))
    with pytest.raises(ValueError, match="listed twice"):
        load_split(dup)
    with pytest.raises(FileNotFoundError):
        load_split(tmp_path / "missing.yaml")
