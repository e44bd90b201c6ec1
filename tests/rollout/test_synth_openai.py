"""stage=synth with a model teacher behind an OpenAI-compatible endpoint (issue 6: engine=openai)."""

from __future__ import annotations

import json

from r1ci.config import compose, validate
from r1ci.stages import synth


def test_synth_with_an_openai_teacher_runs_through_the_endpoint(openai_server_url, cache_dir, tmp_path):
    cfg = compose(["stage=synth", "teacher=model", "teacher.engine.kind=openai",
                   f"teacher.engine.base_url={openai_server_url}", "teacher.engine.api_model=tiny",
                   "rollout.max_tokens_per_turn=32", "model.max_response_len=128",
                   "task_mix.tasks=[number_multiply]", "task_mix.n_train_per_task=6", "teacher.styles=[interpreter]",
                   "teacher.samples_per_item=2", "teacher.items_per_task=null",  # the SFT share, not the tiny scale's 100
                   f"paths.root={tmp_path}", f"paths.cache_dir={cache_dir}",
                   "logger=none"])
    result = synth.run(validate(cfg))  # the teacher answers the SFT half of the 6 training items (RL gets the rest)
    assert result["n_items"] == 3 and result["n_trajectories"] == 6  # every job went through the API
    assert result["n_infra_failed"] == 0
    stats = (tmp_path / "stats.csv").read_text().splitlines()
    assert stats[1].startswith("number_multiply,3,6,")
    kept = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(kept) == result["n_kept"]  # a random tiny teacher is rarely right; what is kept is correct
