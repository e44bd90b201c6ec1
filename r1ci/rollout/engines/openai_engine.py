"""An engine over any OpenAI-compatible HTTP endpoint: GPT-4o as a teacher or baseline, or `vllm serve`.

Two request modes (engine.api_mode):
- completions: the prompt goes out as token ids and, from vLLM, the generated ids and their logprobs
  come back, so a trajectory holds exactly the ids the server sampled;
- chat: for chat-only APIs. The prompt ids are decoded and parsed back into messages (chatml.py), each
  interpreter output becoming a user message; the reply text is tokenised locally.
Two dialects (engine.api_dialect): `vllm` sends vLLM's extra request fields (return_token_ids,
include_stop_str_in_output, continue_final_message) and reads its `stop_reason`; `openai` sends only
standard fields. A strict API drops the stop string from the text and does not say whether a stop string
or the end of the message ended it, so there stop strings are applied client-side instead: the reply is
cut after the first one (kept, as the other engines keep it), costing only the tokens after it.
Whenever the ids are local re-tokenisations of text, GenOutput.meta["retokenized"] is True and the
logprobs are 0.0 (the server's belong to other tokens); a natural end then appends the eos id, as the
in-process engines return it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter, OrderedDict
from typing import Any

import httpx

from r1ci.rollout.engines.base import GenOutput, Sampling
from r1ci.rollout.engines.lifecycle import EngineState, Lifecycle
from r1ci.rollout.engines.chatml import parse_chatml, split_assistant_turn

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_REMEMBERED_SEGMENTS = 65536  # generated texts kept to split interpreter outputs from model text (chat)


class OpenAIError(RuntimeError):
    """The endpoint refused a request (or kept failing after every retry)."""


class OpenAIEngine(Lifecycle):  # the server owns its memory: sleeping frees nothing here
    def __init__(self, base_url: str, model: str, tokenizer: Any, *, mode: str = "completions",
                 dialect: str = "vllm", api_key: str | None = None, timeout_s: float = 600.0,
                 max_retries: int = 6, max_concurrency: int = 64, backoff_s: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None):
        if mode not in ("completions", "chat") or dialect not in ("vllm", "openai"):
            raise ValueError(f"unknown api mode/dialect {mode!r}/{dialect!r}")
        self.base_url = base_url.rstrip("/")
        self.model, self.tokenizer, self.mode, self.dialect = model, tokenizer, mode, dialect
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.max_concurrency = max_concurrency
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._generated: OrderedDict[str, None] = OrderedDict()
        self.stats: Counter[str] = Counter()  # requests, retries, retokenized, chat_unsplit

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        self.require("generate", EngineState.AWAKE)
        if self.mode == "completions":
            path, body, meta = "/completions", self._completions_body(prompt_ids), {}
        else:
            path, (body, meta) = "/chat/completions", self._chat_body(prompt_ids)
        body.update(self._sampling_fields(sampling))
        self.stats["requests"] += 1
        choice = (await self._post(path, body))["choices"][0]
        text = choice["text"] if self.mode == "completions" else choice["message"]["content"] or ""
        out = self._to_output(choice, text, sampling)
        out.meta.update(meta)
        if self.mode == "chat":
            self._remember(self.tokenizer.decode(out.token_ids, skip_special_tokens=False))
        return out

    def _sampling_fields(self, sampling: Sampling) -> dict[str, Any]:
        fields: dict[str, Any] = {"model": self.model, "max_tokens": sampling.max_tokens,
                                  "temperature": sampling.temperature, "top_p": sampling.top_p}
        if sampling.seed is not None:
            fields["seed"] = sampling.seed
        if self.dialect == "vllm" and sampling.stop:
            fields.update(stop=list(sampling.stop), include_stop_str_in_output=True)
        return fields

    def _completions_body(self, prompt_ids: list[int]) -> dict[str, Any]:
        if self.dialect == "vllm":  # ids in, ids + logprobs out: no re-tokenisation anywhere
            return {"prompt": list(prompt_ids), "logprobs": 0, "return_token_ids": True,
                    "return_tokens_as_token_ids": True}
        return {"prompt": self.tokenizer.decode(prompt_ids, skip_special_tokens=False)}

    def _chat_body(self, prompt_ids: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
        parsed = parse_chatml(self.tokenizer.decode(prompt_ids, skip_special_tokens=False))
        messages, unsplit = list(parsed.messages), 0
        if parsed.partial:
            turn, unsplit = split_assistant_turn(parsed.partial, self._generated.__contains__)
            messages += turn
        self.stats["chat_unsplit"] += unsplit
        body: dict[str, Any] = {"messages": messages}
        if messages and messages[-1]["role"] == "assistant" and self.dialect == "vllm":  # continue it
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body, {"chat_messages": len(messages), "chat_unsplit": unsplit}

    def _to_output(self, choice: dict[str, Any], text: str, sampling: Sampling) -> GenOutput:
        stop_reason = choice.get("stop_reason")
        stop_str = stop_reason if isinstance(stop_reason, str) else None
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        ids = _server_ids(choice) if self.mode == "completions" and self.dialect == "vllm" else None
        if ids is not None:
            logprobs = _server_logprobs(choice, len(ids))
            return GenOutput(list(ids), logprobs, finish, stop_str, {"retokenized": False})
        if stop_str is None:  # strict servers: apply the stop strings here
            text, stop_str = _cut_at_stop(text, sampling.stop)
            finish = "stop" if stop_str is not None else finish
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        if finish == "stop" and stop_str is None and self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        self.stats["retokenized"] += 1
        return GenOutput(ids, [0.0] * len(ids), finish, stop_str, {"retokenized": True})

    def _remember(self, text: str) -> None:
        self._generated[text] = None
        self._generated.move_to_end(text)
        while len(self._generated) > _REMEMBERED_SEGMENTS:
            self._generated.popitem(last=False)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries: exponential backoff with jitter (or the server's Retry-After) on 429/5xx."""
        client = self._client()
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                resp = await client.post(self.base_url + path, json=body)
            except httpx.TransportError as err:  # connection refused / reset, timeouts
                if attempt == self.max_retries:
                    raise OpenAIError(f"{path}: {type(err).__name__}: {err}") from err
            else:
                if resp.status_code < 400:
                    return resp.json()
                if resp.status_code not in RETRY_STATUS or attempt == self.max_retries:
                    raise OpenAIError(f"{path}: HTTP {resp.status_code}: {resp.text[:500]}")
                retry_after = resp.headers.get("retry-after")
            self.stats["retries"] += 1
            await asyncio.sleep(self._backoff(attempt, retry_after))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        try:
            return min(float(retry_after), 60.0) if retry_after is not None else self._jittered(attempt)
        except ValueError:  # an HTTP-date Retry-After
            return self._jittered(attempt)

    def _jittered(self, attempt: int) -> float:
        return min(self.backoff_s * 2**attempt, 30.0) * (0.5 + random.random() / 2)

    def _client(self) -> httpx.AsyncClient:
        """One client per event loop: an httpx connection pool must not outlive the loop it was made in."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            self._http = httpx.AsyncClient(timeout=self.timeout_s, headers=self._headers,
                                           transport=self._transport,
                                           limits=httpx.Limits(max_connections=self.max_concurrency))
            self._http_loop = loop
        return self._http

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    def update_weights(self, weights: Any) -> None:
        raise NotImplementedError("an OpenAI-compatible endpoint's weights cannot be pushed; use engine=vllm")

    def close(self) -> None:
        """Drop the HTTP client; it is closed properly when its loop is still usable, else left to GC."""
        http, loop, self._http = self._http, self._http_loop, None
        if http is not None and loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(http.aclose())


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """Cut after the earliest stop string (kept in the text); return the text and that string."""
    best: tuple[int, str] | None = None
    for stop in stops:
        i = text.find(stop) if stop else -1
        if i != -1 and (best is None or i + len(stop) < best[0]):
            best = (i + len(stop), stop)
    return (text[: best[0]], best[1]) if best else (text, None)


def _server_ids(choice: dict[str, Any]) -> list[int] | None:
    """vLLM's generated ids: `token_ids` (return_token_ids) or, from older servers, the logprobs tokens
    written as "token_id:N" (return_tokens_as_token_ids); None when the server sent neither."""
    if choice.get("token_ids") is not None:
        return list(choice["token_ids"])
    tokens = (choice.get("logprobs") or {}).get("tokens") or []
    if tokens and all(isinstance(t, str) and t.startswith("token_id:") for t in tokens):
        return [int(t.split(":", 1)[1]) for t in tokens]
    return None


def _server_logprobs(choice: dict[str, Any], n: int) -> list[float]:
    """The sampled tokens' logprobs when the server sent them (vLLM: logprobs=0), else 0.0."""
    lp = (choice.get("logprobs") or {}).get("token_logprobs") or []
    return [float(x) if x is not None else 0.0 for x in lp] if len(lp) == n else [0.0] * n
