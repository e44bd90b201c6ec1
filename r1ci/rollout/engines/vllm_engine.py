"""vLLM engine driven in-process by an asyncio loop.

vLLM's AsyncLLM always starts a separate engine-core process (25-30 s on CPU, and weights must then be
shipped across processes). Instead we drive the in-process `LLMEngine`: coroutines queue requests and
await futures; one driver task adds queued requests and runs `engine.step()` in a worker thread while
anything is pending. A trajectory waiting on the sandbox therefore never blocks the others, exactly as
with AsyncLLM, and weights can be reloaded in place between steps (stack-notes.md).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any, Awaitable, Callable, TypeVar

from r1ci.rollout.engines.base import GenOutput, Sampling, Weights, weight_pairs
from r1ci.rollout.engines.lifecycle import EngineState, Lifecycle

T = TypeVar("T")


class SPMDMirror:
    """The leader (first rank) of a tensor-parallel group tells the others what to add before each engine
    step, over a gloo group of the group's ranks: one coroutine per trajectory stays on the leader, with
    its sandbox calls, and the followers' shards step in lock-step with the leader's (docs/architecture.md).
    Consecutive ranks form a group; every rank of the job builds every group (a collective)."""

    def __init__(self, tensor_parallel_size: int):
        import torch.distributed as dist

        world, rank = dist.get_world_size(), dist.get_rank()
        if world % tensor_parallel_size:
            raise ValueError(f"{world} ranks cannot be split into tensor-parallel groups of {tensor_parallel_size}")
        groups = [list(range(r, r + tensor_parallel_size)) for r in range(0, world, tensor_parallel_size)]
        self.group, _ = dist.new_subgroups_by_enumeration(groups, backend="gloo")
        self.ranks = groups[rank // tensor_parallel_size]
        self.is_leader = rank == self.ranks[0]

    def broadcast(self, obj: Any) -> Any:
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=self.ranks[0], group=self.group)
        return box[0]

    def send(self, obj: Any) -> None:
        self.broadcast(obj)

    def recv(self) -> Any:
        return self.broadcast(None)


class VLLMEngine(Lifecycle):
    def __init__(self, model_path: str, *, dtype: str, max_model_len: int, seed: int, tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.5, enforce_eager: bool = False, kv_cache_gib: int = 1,
                 sleep_level: int = 2):
        import torch

        from r1ci.distributed import dist_info

        # Inside a multi-rank job, a model split over ranks runs SPMD: each of its ranks hosts one shard
        # (external_launcher) and all of them must add the same requests and step together (SPMDMirror).
        spmd = tensor_parallel_size > 1 and dist_info().world_size > 1
        on_cpu = not torch.cuda.is_available()
        self._sleep_level = None if on_cpu else sleep_level  # vLLM-CPU has no sleep mode (stack-notes)
        # The engine core in this process (not vLLM's default background process): this module drives it,
        # and external_launcher requires it
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
        from vllm.engine.arg_utils import EngineArgs
        from vllm.v1.engine.llm_engine import LLMEngine

        args = EngineArgs(
            model=model_path, dtype=dtype, max_model_len=max_model_len, seed=seed,
            tensor_parallel_size=tensor_parallel_size, enforce_eager=enforce_eager or on_cpu,
            gpu_memory_utilization=gpu_memory_utilization,
            distributed_executor_backend="external_launcher" if spmd else "uni" if tensor_parallel_size == 1 else None,
            disable_log_stats=True,
            enable_sleep_mode=not on_cpu,  # else vLLM's memory is not in its sleep allocator: nothing to free
            # On CPU a prefill split across steps rewinds each seeded request's torch.Generator, which
            # CPU generators cannot do ("CPU Generator does not use offset"): keep prefills whole there.
            enable_chunked_prefill=False if on_cpu else None,
            max_num_batched_tokens=max(max_model_len, 8192) if on_cpu else None,
        )
        self._engine = LLMEngine.from_engine_args(args)
        self.tokenizer = self._engine.get_tokenizer()
        self._ids = itertools.count()
        self._queued: list[tuple[str, list[int], Any]] = []
        self._futures: dict[str, asyncio.Future] = {}
        self._driver: asyncio.Task | None = None
        self._mirror = SPMDMirror(tensor_parallel_size) if spmd else None

    @property
    def is_leader(self) -> bool:  # type: ignore[override]
        return self._mirror is None or self._mirror.is_leader

    @property
    def tp_ranks(self) -> int:  # type: ignore[override]
        return 1 if self._mirror is None else len(self._mirror.ranks)

    async def lead(self, work: Callable[[], Awaitable[T]]) -> T | None:
        """Run `work` (generate/score calls) on the leader of this engine's tensor-parallel group while the
        other ranks of the group mirror its engine steps; they get None. Without TP across ranks: work()."""
        if self._mirror is None:
            return await work()
        if self._mirror.is_leader:
            try:
                return await work()
            finally:
                self._mirror.send(None)  # the end of this phase: the followers return
        await asyncio.to_thread(self._follow)
        return None

    def share(self, obj: Any) -> Any:
        """The leader's `obj` on every rank of the tensor-parallel group (itself without TP across ranks)."""
        return obj if self._mirror is None else self._mirror.broadcast(obj)

    def _follow(self) -> None:
        while (requests := self._mirror.recv()) is not None:
            self._step(requests)

    def _lead_step(self, requests: list) -> list:
        if self._mirror is not None:
            self._mirror.send(requests)  # the followers add the same requests and step with us
        return self._step(requests)

    def _step(self, requests: list) -> list:
        for rid, ids, params in requests:
            self._engine.add_request(rid, {"prompt_token_ids": ids}, params)
        return self._engine.step()

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        self.require("generate", EngineState.AWAKE)
        params = SamplingParams(
            temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens,
            stop=list(sampling.stop) or None, include_stop_str_in_output=True, seed=sampling.seed, logprobs=0,
            structured_outputs=StructuredOutputsParams(regex=sampling.regex) if sampling.regex else None,
        )
        return _to_gen_output((await self._submit(prompt_ids, params)).outputs[0])

    async def score(self, token_ids: list[int]) -> list[float]:
        """Log-prob of every token given the ones before it (0.0 for the first), under the engine's
        current weights: vLLM's prompt log-probs, raw (before temperature), like the trainer's."""
        from vllm import SamplingParams

        self.require("score", EngineState.AWAKE)
        out = await self._submit(token_ids, SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0))
        return [0.0] + [float(pos[tok].logprob) for tok, pos in zip(token_ids[1:], out.prompt_logprobs[1:])]

    async def _submit(self, prompt_ids: list[int], params: Any) -> Any:
        """Queue one request for the driver and wait for its finished RequestOutput."""
        if not self.is_leader:
            raise RuntimeError("a tensor-parallel follower mirrors its group's leader: call the engine in lead()")
        rid = f"r{next(self._ids)}"
        fut = asyncio.get_running_loop().create_future()
        self._futures[rid] = fut
        self._queued.append((rid, list(prompt_ids), params))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        return await fut

    async def _drive(self) -> None:
        """Add queued requests, step, hand finished outputs to their futures; stop when idle."""
        try:
            while self._futures:  # only this task touches the engine, so add/step never interleave
                requests, self._queued = self._queued, []
                outputs = await asyncio.to_thread(self._lead_step, requests)
                for out in outputs:
                    if out.finished and out.request_id in self._futures:
                        self._futures.pop(out.request_id).set_result(out)
        except BaseException as err:  # surface engine failures to every waiter instead of hanging them
            for fut in self._futures.values():
                if not fut.done():
                    fut.set_exception(err if isinstance(err, Exception) else RuntimeError(repr(err)))
            self._futures.clear()
            raise

    def update_weights(self, weights: Weights) -> None:
        """Reload weights in place, streamed into vLLM's loader; r1ci.training.weight_sync verifies."""
        from r1ci.rollout.engines.vllm_weights import reload_weights

        self.require("update_weights", EngineState.WEIGHTS, EngineState.AWAKE)
        reload_weights(self._engine, weight_pairs(weights))

    def _release(self) -> None:
        """Level 2 (default) drops the weights as well as the KV cache: vLLM's choice when new weights are
        loaded before the next use, as every RL step pushes them. Level 1 keeps a host copy."""
        if self._sleep_level is not None:
            self._engine.sleep(level=self._sleep_level)

    def _restore(self, tags: list[str] | None) -> None:
        if self._sleep_level is not None:
            self._engine.wake_up(tags)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
        engine, self._engine = self._engine, None
        del engine


def _to_gen_output(completion: Any) -> GenOutput:
    logprobs = []
    for tok, pos in zip(completion.token_ids, completion.logprobs or []):
        logprobs.append(float(pos[tok].logprob) if pos and tok in pos else 0.0)
    stop = completion.stop_reason if isinstance(completion.stop_reason, str) else None
    finish = "length" if completion.finish_reason == "length" else "stop"
    return GenOutput(token_ids=list(completion.token_ids), logprobs=logprobs, finish_reason=finish, stop_str=stop)
