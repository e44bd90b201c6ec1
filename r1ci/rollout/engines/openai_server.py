"""A small OpenAI-compatible server over any r1ci engine, so `engine=openai` runs without `vllm serve`.

It speaks the subset r1ci's OpenAIEngine uses, with vLLM's semantics for the extra fields:
/v1/models, /v1/completions (prompt as token ids or text; logprobs, return_token_ids,
return_tokens_as_token_ids, include_stop_str_in_output, stop_reason) and /v1/chat/completions
(messages through the model's chat template, continue_final_message). One choice per request (n=1).

    python -m r1ci.rollout.engines.openai_server --model tiny --engine hf --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from r1ci.rollout.engines.base import Engine, GenOutput, Sampling

_ids = itertools.count()


def build_app(engine: Engine, model_name: str) -> Starlette:
    tok = engine.tokenizer

    async def models(_: Request) -> JSONResponse:
        card = {"id": model_name, "object": "model", "owned_by": "r1ci"}
        return JSONResponse({"object": "list", "data": [card]})

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            prompt = list(tok.encode(prompt, add_special_tokens=False))
        elif not (isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt)):
            return _error("prompt must be a string or a list of token ids (one prompt per request)")
        out = await engine.generate(prompt, _sampling(body, default_max_tokens=16))
        choice = {"index": 0, **_choice_core(tok, out, body)}
        choice["text"] = choice.pop("content")
        if body.get("logprobs") is not None:
            choice["logprobs"] = _logprobs(tok, out, bool(body.get("return_tokens_as_token_ids")))
        if body.get("return_token_ids"):
            choice.update(token_ids=out.token_ids, prompt_token_ids=prompt)
        return JSONResponse(_envelope("text_completion", model_name, choice, len(prompt), out))

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error("messages must be a non-empty list")
        cont = bool(body.get("continue_final_message"))
        text = tok.apply_chat_template(body["messages"], tokenize=False, continue_final_message=cont,
                                       add_generation_prompt=body.get("add_generation_prompt", not cont))
        prompt = list(tok.encode(text, add_special_tokens=False))
        out = await engine.generate(prompt, _sampling(body, default_max_tokens=1024))
        core = _choice_core(tok, out, body)
        choice = {"index": 0, "message": {"role": "assistant", "content": core.pop("content")}, **core}
        return JSONResponse(_envelope("chat.completion", model_name, choice, len(prompt), out))

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/completions", completions, methods=["POST"]),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


def _sampling(body: dict[str, Any], default_max_tokens: int) -> Sampling:
    """Request fields -> Sampling, with the OpenAI API's defaults (JSON bodies, hence .get)."""
    stop = body.get("stop") or ()
    temperature = body.get("temperature")
    return Sampling(temperature=1.0 if temperature is None else float(temperature),
                    top_p=float(body.get("top_p") or 1.0),
                    max_tokens=int(body.get("max_tokens") or default_max_tokens),
                    stop=(stop,) if isinstance(stop, str) else tuple(stop), seed=body.get("seed"))


def _choice_core(tok: Any, out: GenOutput, body: dict[str, Any]) -> dict[str, Any]:
    """Text (stop string kept only when asked, as vLLM), finish_reason and vLLM's stop_reason."""
    text = tok.decode(out.token_ids, skip_special_tokens=True)
    if out.stop_str is not None:
        end = text.find(out.stop_str)
        keep = len(out.stop_str) if body.get("include_stop_str_in_output") else 0
        end = len(text) if end == -1 else end + keep
        text = text[:end]
    return {"content": text, "finish_reason": out.finish_reason, "stop_reason": out.stop_str}


def _logprobs(tok: Any, out: GenOutput, as_ids: bool) -> dict[str, Any]:
    tokens = [f"token_id:{t}" if as_ids else tok.decode([t]) for t in out.token_ids]
    offsets = list(itertools.accumulate((len(tok.decode([t])) for t in out.token_ids), initial=0))[:-1]
    return {"tokens": tokens, "token_logprobs": out.logprobs, "top_logprobs": None, "text_offset": offsets}


def _envelope(obj: str, model: str, choice: dict[str, Any], n_prompt: int, out: GenOutput) -> dict[str, Any]:
    n_out = len(out.token_ids)
    return {"id": f"r1ci-{next(_ids)}", "object": obj, "created": int(time.time()), "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out,
                      "total_tokens": n_prompt + n_out}}


def _error(msg: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"message": msg, "type": "invalid_request_error"}}, status_code=status)


class BackgroundServer:
    """uvicorn in a daemon thread on a free port (tests, notebooks): `with BackgroundServer(app) as url:`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
                                        daemon=True, name="openai-server")

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the OpenAI-compatible server did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help='model dir or HF id; "tiny" builds the tiny test model')
    p.add_argument("--engine", choices=("hf", "vllm"), default="hf")
    p.add_argument("--served-name", default=None, help="model name clients send (default: --model)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--max-model-len", type=int, default=4096)
    p.add_argument("--cache-dir", default=".cache/r1ci")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args(argv)
    path = args.model
    if path == "tiny":
        from r1ci.models.tiny import build_tiny_model

        path = str(build_tiny_model(args.cache_dir))
    if args.engine == "hf":
        from r1ci.rollout.engines.hf_engine import HFEngine

        engine: Engine = HFEngine(path, dtype=args.dtype, seed=0)
    else:
        from r1ci.rollout.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(path, dtype=args.dtype, max_model_len=args.max_model_len, seed=0)
    uvicorn.run(build_app(engine, args.served_name or args.model), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
