"""The multi-turn loop and the reward on scripted model outputs, with the real bubblewrap sandbox."""

from __future__ import annotations

import pytest
from fakes import LENGTH, FlakySandbox, ScriptedEngine

from r1ci.config import RolloutConfig
from r1ci.rollout.engines.base import Sampling
from r1ci.rollout.loop import RESULTS_PREFIX, InterpreterFormatter, Style, run_trajectory
from r1ci.rollout.reward import compute_reward
from r1ci.tasks import get_task

INTERP = Style("interpreter", "interpreter", "You may run code.")
TEXT = Style("text", "text_only", "Reason in text.")


@pytest.fixture(scope="module")
def item():
    return get_task("multistep_arithmetic_two").generate(1, seed=3)[0]


def code_turn(code: str, lead: str = "Let me compute.") -> str:
    return f"{lead}\n```python\n{code}\n```\n"


async def rollout(tok, sandbox, turns, item, style=INTERP,
                  limits=RolloutConfig(max_response_tokens=6144, max_tokens_per_turn=256)):
    engine = ScriptedEngine(tok, turns)
    traj = await run_trajectory(item, style, engine, sandbox, InterpreterFormatter(tok, 64), limits,
                                Sampling(temperature=1.0, seed=7))
    return traj, engine


def check_invariants(traj, engine):
    """Mask is 1 exactly on model tokens; ids are what the engine produced; each call saw the full prefix."""
    assert len(traj.token_ids) == len(traj.loss_mask) == len(traj.logprobs)
    for seg in traj.segments:
        span = traj.loss_mask[seg.start:seg.start + len(seg.token_ids)]
        assert span == [1 if seg.kind == "model" else 0] * len(seg.token_ids)
        assert traj.token_ids[seg.start:seg.start + len(seg.token_ids)] == seg.token_ids
    model_starts = [s.start for s in traj.model_segments]
    calls = [len(ids) for ids, _ in engine.calls]
    assert set(model_starts) <= set(calls)  # each segment starts with a call on the full prefix
    for ids, _ in engine.calls:  # and every call, continuations too, saw exactly the tokens so far
        assert traj.token_ids[:len(ids)] == ids


async def test_code_then_answer(tiny_tokenizer, sandbox, item):
    turns = [code_turn(f"print({item.answer!r})"), f"The result is shown. <<<{item.answer}>>>"]
    traj, engine = await rollout(tiny_tokenizer, sandbox, turns, item)
    check_invariants(traj, engine)
    assert [s.kind for s in traj.segments] == ["prompt", "model", "interpreter", "model"]
    interp = traj.segments[2]
    assert interp.text == f"{RESULTS_PREFIX}{item.answer}\n"  # exactly the sandbox's stdout
    assert traj.exec_results[0].status == "ok" and traj.finish == "answered"
    r = compute_reward(traj, item)
    assert (r.correct, r.well_formed, r.too_long) == (True, True, False)
    assert r.total == pytest.approx(1.1)
    assert engine.calls[0][1].stop == ("```\n",) and engine.calls[0][1].seed == 7 * 64


async def test_several_code_calls_and_wrong_answer(tiny_tokenizer, sandbox, item):
    turns = [code_turn("x = 2"), code_turn("print(x)", "Now print."), "<<<definitely wrong>>>"]
    traj, engine = await rollout(tiny_tokenizer, sandbox, turns, item)
    check_invariants(traj, engine)
    assert traj.code_calls == 2 and traj.segments[2].text == f"{RESULTS_PREFIX}(no output)\n"
    r = compute_reward(traj, item)
    assert (r.correct, r.well_formed, r.total) == (False, True, pytest.approx(0.1))


async def test_unterminated_code_block_ends_without_execution(tiny_tokenizer, sandbox, item):
    traj, engine = await rollout(tiny_tokenizer, sandbox, ["Let me try\n```python\nprint(1)" + LENGTH], item)
    check_invariants(traj, engine)
    assert traj.code_calls == 0 and traj.finish == "max_tokens" and traj.final_answer is None
    r = compute_reward(traj, item)
    assert (r.score, r.well_formed, r.total) == (0.0, False, pytest.approx(-0.1))


async def test_no_answer(tiny_tokenizer, sandbox, item):
    traj, _ = await rollout(tiny_tokenizer, sandbox, ["I am not sure what to do."], item)
    assert traj.finish == "no_answer" and compute_reward(traj, item).total == pytest.approx(-0.1)


async def test_timeout_is_shown_to_the_model(tiny_tokenizer, sandbox, item):
    turns = [code_turn("import time\ntime.sleep(30)"), f"Too slow; by hand: <<<{item.answer}>>>"]
    traj, engine = await rollout(tiny_tokenizer, sandbox, turns, item)
    check_invariants(traj, engine)
    assert traj.exec_results[0].status == "timeout"
    assert "TimeoutError" in traj.segments[2].text
    assert compute_reward(traj, item).total == pytest.approx(1.1)


async def test_infra_error_flags_the_trajectory(tiny_tokenizer, sandbox, item):
    turns = [code_turn("print(1)  #INFRA"), f"<<<{item.answer}>>>"]
    traj, _ = await rollout(tiny_tokenizer, FlakySandbox(sandbox), turns, item)
    assert traj.infra_failed and traj.finish == "infra_error"
    assert [s.kind for s in traj.segments] == ["prompt", "model"]  # nothing appended for the failed call


async def test_more_than_max_code_calls_stops(tiny_tokenizer, sandbox, item):
    turns = [code_turn(f"print({i})") for i in range(10)] + [f"<<<{item.answer}>>>"]
    limits = RolloutConfig(max_response_tokens=6144, max_code_calls=8, max_turns=20, max_tokens_per_turn=256)
    traj, engine = await rollout(tiny_tokenizer, sandbox, turns, item, limits=limits)
    check_invariants(traj, engine)
    assert traj.code_calls == 8 and traj.turns == 9 and traj.finish == "max_code_calls"
    r = compute_reward(traj, item)
    assert (r.correct, r.well_formed, r.too_long) == (False, False, True)
    assert r.total == pytest.approx(-0.2)


async def test_more_than_six_turns_is_penalised(tiny_tokenizer, sandbox, item):
    turns = [code_turn(f"print({i})") for i in range(6)] + [f"<<<{item.answer}>>>"]
    traj, _ = await rollout(tiny_tokenizer, sandbox, turns, item)
    r = compute_reward(traj, item)
    assert traj.turns == 7 and (r.correct, r.well_formed, r.too_long) == (True, True, True)
    assert r.total == pytest.approx(1.0)


async def test_text_only_style_runs_no_code(tiny_tokenizer, sandbox, item):
    traj, engine = await rollout(tiny_tokenizer, sandbox, [code_turn("print(1)") + f"<<<{item.answer}>>>"],
                                 item, style=TEXT)
    assert traj.code_calls == 0 and traj.turns == 1 and engine.calls[0][1].stop == ()
    assert compute_reward(traj, item).correct


async def test_long_output_is_truncated_to_the_token_budget(tiny_tokenizer, sandbox, item):
    turns = [code_turn("print('ab ' * 5000)"), f"<<<{item.answer}>>>"]
    traj, _ = await rollout(tiny_tokenizer, sandbox, turns, item)
    interp = traj.segments[2]
    fmt = InterpreterFormatter(tiny_tokenizer, 64)
    assert len(interp.token_ids) == len(fmt.prefix_ids) + 64 + len(fmt.mark_ids) + 1
    assert interp.text.endswith("[output truncated]\n")


def test_compute_reward_on_plain_text(item):
    good = compute_reward(f"Reasoning... <<<{item.answer}>>>", item)
    assert good.correct and good.total == pytest.approx(1.1)
    assert compute_reward("no answer here", item).total == pytest.approx(-0.1)


async def test_sft_tokenisation_matches_the_rollout_layout(tiny_tokenizer, sandbox, item):
    """The SFT loss mask, token by token: prompt and interpreter output carry no loss."""
    from r1ci.rollout.conversation import tokenize_messages, trajectory_to_messages

    turns = [code_turn(f"print({item.answer!r})"), f"So <<<{item.answer}>>>"]
    traj, _ = await rollout(tiny_tokenizer, sandbox, turns, item)
    messages = trajectory_to_messages(traj, INTERP.system, INTERP.user_message(item.question))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "interpreter", "assistant"]
    ids, mask = tokenize_messages(tiny_tokenizer, messages)
    assert ids[:-1] == traj.token_ids and mask[:-1] == traj.loss_mask  # same ids, same mask as the rollout
    assert ids[-1] == tiny_tokenizer.eos_token_id and mask[-1] == 1
    interp = traj.segments[2]
    assert set(mask[interp.start:interp.start + len(interp.token_ids)]) == {0}
    assert set(mask[:traj.prompt_len]) == {0}
    assert tiny_tokenizer.decode([t for t, m in zip(ids, mask) if m]) == (
        turns[0] + turns[1] + tiny_tokenizer.eos_token)


async def test_trajectory_cut_after_a_code_call_is_not_well_formed(tiny_tokenizer, sandbox, item):
    """A candidate answer followed by a code block that the budget cuts off is unfinished work."""
    turns = [code_turn(f"print({item.answer!r})"), code_turn("print('check')", f"Candidate <<<{item.answer}>>>.")]
    limits = RolloutConfig(max_response_tokens=6144, max_turns=2)
    traj, _ = await rollout(tiny_tokenizer, sandbox, turns, item, limits=limits)
    assert traj.finish == "max_turns" and traj.final_answer == item.answer
    r = compute_reward(traj, item)
    assert r.correct and not r.well_formed and r.total == pytest.approx(0.9)


# ---- fences: only the closing fence of a python block ends a turn (issue: a bare fence ended it) ----

async def test_bare_fence_block_continues_the_turn_and_is_not_run(tiny_tokenizer, sandbox, item):
    """A bare ``` block (a table, a sketch) opens with the stop string "```\n": the same segment goes on,
    and the python block after it is the one run."""
    turn = ("Let me lay it out:\n```\nstep | value\n```\nNow compute:\n```python\n"
            f"print({item.answer!r})\n```\n")
    traj, engine = await rollout(tiny_tokenizer, sandbox, [turn, f"So <<<{item.answer}>>>"], item)
    check_invariants(traj, engine)
    assert [s.kind for s in traj.segments] == ["prompt", "model", "interpreter", "model"]
    assert traj.segments[1].text == turn and len(engine.calls) == 4  # 3 calls build segment 1
    assert traj.code_calls == 1 and traj.exec_results[0].stdout.strip() == str(item.answer)
    assert traj.finish == "answered" and compute_reward(traj, item).well_formed


async def test_text_block_and_inline_backticks_do_not_end_the_turn(tiny_tokenizer, sandbox, item):
    turn = ("Plan (inline `gcd` and ```x = 1``` are prose):\n```text\n1. compute\n2. answer\n```\n"
            f"```python\nprint({item.answer!r})\n```\n")
    traj, engine = await rollout(tiny_tokenizer, sandbox, [turn, f"<<<{item.answer}>>>"], item)
    check_invariants(traj, engine)
    assert traj.segments[1].text == turn and traj.code_calls == 1
    assert compute_reward(traj, item).correct


async def test_a_closed_bare_block_is_never_executed(tiny_tokenizer, sandbox, item):
    turn = f"Sketch:\n```\nprint('not run')\n```\nThe answer is <<<{item.answer}>>>"
    traj, engine = await rollout(tiny_tokenizer, sandbox, [turn], item)
    check_invariants(traj, engine)
    assert traj.code_calls == 0 and traj.turns == 1 and traj.finish == "answered"
    assert traj.model_text == turn and compute_reward(traj, item).correct


# ---- token budgets: a segment may use the whole remaining response budget ----

async def test_segments_get_the_remaining_response_budget_by_default(tiny_tokenizer, sandbox, item):
    limits = RolloutConfig(max_response_tokens=3000)  # more than the old 1024-token cap per segment
    traj, engine = await rollout(tiny_tokenizer, sandbox, [code_turn("print(1)"), "<<<1>>>"], item, limits=limits)
    first, second = (call[1].max_tokens for call in engine.calls)
    assert first == 3000 and second == 3000 - (traj.segments[3].start - traj.prompt_len)
    _, engine = await rollout(tiny_tokenizer, sandbox, ["All in text. <<<1>>>"], item, style=TEXT, limits=limits)
    assert engine.calls[0][1].max_tokens == 3000  # text only: the whole response budget in one segment


async def test_a_per_turn_cap_covers_the_whole_segment_across_continuations(tiny_tokenizer, sandbox, item):
    turn = "```\nx\n```\n" + code_turn("print(1)")
    limits = RolloutConfig(max_response_tokens=500, max_tokens_per_turn=200)
    traj, engine = await rollout(tiny_tokenizer, sandbox, [turn, "<<<1>>>"], item, limits=limits)
    budgets = [call[1].max_tokens for call in engine.calls]
    sizes = [len(ids) for ids, _ in engine.calls]
    assert budgets[0] == 200 and budgets[1] == 200 - (sizes[1] - sizes[0])  # the continuation's share
    assert traj.code_calls == 1


# ---- prompts follow the style (conf/prompts is their one home) ----

def test_each_style_instruction_follows_the_question_and_text_only_never_mentions_code():
    from r1ci.config import STYLES, compose
    from r1ci.tasks import ANSWER_INSTRUCTION

    cfg = compose([])
    questions = [get_task(name).generate(1, 0)[0].question for name in ("gcd", "boolean_expressions", "game24")]
    code_words = ("code", "python", "```", "program", "run", "print")
    for q in questions:
        assert q.endswith(ANSWER_INSTRUCTION) and not any(w in ANSWER_INSTRUCTION.lower() for w in code_words)
    for name in STYLES:
        style = Style.from_prompts(cfg.prompts, name)
        user = style.user_message(questions[0])
        body = questions[0].removesuffix(ANSWER_INSTRUCTION)
        assert style.instruction and user == f"{body}\n\n{style.instruction} {ANSWER_INSTRUCTION.strip()}"
        if style.mode == "text_only":
            assert not any(w in (style.instruction + style.system).lower() for w in code_words[1:]), name
        else:
            assert "print" in style.instruction and "```python" in style.instruction, name
