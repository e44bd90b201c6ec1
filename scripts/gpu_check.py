"""One-GPU acceptance check: r1ci's training path at real widths on one GPU, and how fast each part is.

    bash scripts/gpu_check.sh                 # a GPU: random Qwen2.5-1.5B widths, bf16, DeepSpeed ZeRO-3
    bash scripts/gpu_check.sh --dry-run       # CPU, the tiny model (the test suite runs this)

Part 1 needs torch, transformers, deepspeed, hydra-core and omegaconf (no vLLM, no network):
  - SFT: 5 optimiser steps of r1ci's SFTTrainer on synthetic sequences of a fixed length (MFU at a known
    shape; the loss is over the second half of each sequence, as over a response);
  - GRPO: 3 steps of r1ci's GRPOTrainer, trajectories rolled out by the real multi-turn loop with the hf
    engine and the sandbox, with per-phase time and peak GPU memory;
  - the streamed ZeRO-3 weight gather of the push (TrainEngine.iter_weights), timed;
  - the sandbox pool at concurrency 16 (bubblewrap, or sandbox=unsafe where bubblewrap cannot run: said).
Part 2 needs vLLM (skipped with one line without it): rollouts, sleep, wake the weights, the streamed
push, wake the KV cache, the probe check, each timed, with peak GPU memory.
Prints one line per number and writes them all to JSON (--out). A random model answers nothing, so the
rewards carry no signal: this checks that the parts run and measures them, not that anything learns.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, where r1ci is not installed

from r1ci.config import compose, validate  # noqa: E402
from r1ci.tracking import NullRun  # noqa: E402
from r1ci.models.tiny import build_tiny_model, build_tokenizer  # noqa: E402
from r1ci.rollout.engines import make_engine  # noqa: E402
from r1ci.sandbox import make_sandbox  # noqa: E402
from r1ci.sandbox.bwrap import SandboxUnavailable  # noqa: E402
from r1ci.stages.rl import build_trainer, reference_model  # noqa: E402
from r1ci.tasks.mix import training_items  # noqa: E402
from r1ci.training.engine import EngineSpec, build_engine  # noqa: E402
from r1ci.training.grpo import GRPOState  # noqa: E402
from r1ci.training.sft import SFTTrainer  # noqa: E402
from r1ci.training.sft_data import SFTExample  # noqa: E402
from r1ci.training.weight_sync import push_and_verify  # noqa: E402

# Qwen2.5-1.5B's architecture (its config.json), randomly initialised: real widths, no checkpoint
QWEN25_15B = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                  num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
                  tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6)
SANDBOX_SNIPPET = "import numpy as np\nprint(int(np.arange(1000).sum()))"


def build_model(root: Path, dry_run: bool) -> str:
    if dry_run:
        return str(build_tiny_model(root))
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = root / "qwen2.5-1.5b-random"
    tok = build_tokenizer(1024)  # any tokenizer whose ids fit the vocabulary
    config = Qwen2Config(**QWEN25_15B, torch_dtype="bfloat16", eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"))
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def config(root: Path, model_path: str, dry_run: bool, sandbox: str):
    dtype = "float32" if dry_run else "bfloat16"
    return validate(compose([
        "stage=rl", "model=tiny", f"model.path={model_path}", f"model.dtype={dtype}", "model.zero_stage=3",
        "model.micro_batch_size=4", f"model.gradient_checkpointing={not dry_run}", "model.max_prompt_len=512",
        # the hf engine decodes one trajectory at a time: 2 prompts x 4 (x 2 on CPU) keep a step short
        f"model.max_response_len={64 if dry_run else 256}", "engine=hf", "grpo.backend=deepspeed",
        "grpo.global_batch_size=2", f"grpo.group_size={2 if dry_run else 4}", "grpo.lr=1e-6",
        "task_mix=smoke",
        # the hf engine decodes with a KV cache, the trainer in one pass: in bf16 they agree to ~1e-2
        f"grpo.sync_tolerance={1e-3 if dry_run else 5e-2}", f"sandbox={sandbox}", "logger=none",
        "grpo.steps=3", f"paths.root={root}", f"paths.cache_dir={root}"]))


def gpu_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def sft_steps(cfg, engine, seq_len: int, n_steps: int) -> dict:
    g = torch.Generator().manual_seed(0)
    vocab = engine.module.config.vocab_size
    examples = [SFTExample(f"s{i}", "synthetic", tuple(torch.randint(0, vocab, (seq_len,), generator=g).tolist()),
                           (0,) * (seq_len // 2) + (1,) * (seq_len - seq_len // 2)) for i in range(4 * n_steps)]
    sft = replace(cfg.sft, lr=1e-5, lr_schedule="constant", warmup_ratio=0.0, epochs=1, global_batch_size=4,
                  save_every=10**9, seed=0)
    trainer = SFTTrainer(engine, examples, 0, sft, Path(tempfile.mkdtemp()) / "ckpt", NullRun(), "synthetic")
    reset_peak()
    rows = [trainer.train_step(trainer.plan(s), 1e-5) for s in range(n_steps)]
    return {"steps": n_steps, "seq_len": seq_len, "step_s": [r.seconds for r in rows],
            "tflops": [r.tflops for r in rows], "mfu": [r.mfu for r in rows], "peak_gib": gpu_gib()}


async def grpo_steps(cfg, engine, model_path: str, n_steps: int) -> dict:
    items = training_items(cfg, "rl")
    rollout = make_engine(cfg.engine, cfg.model, model_path, cfg.seed)
    reference = reference_model(model_path, engine, False)
    rows = []
    async with make_sandbox(cfg.sandbox) as sandbox:
        trainer = build_trainer(cfg, engine, rollout, reference, items, sandbox, Path(cfg.paths.root), NullRun())
        await push_and_verify(engine, rollout, cfg.grpo.sync_tolerance, bucket_mb=cfg.grpo.sync_bucket_mb)
        state = GRPOState()
        for _ in range(n_steps):
            rows.append(await trainer.train_step(state))
            state.step += 1
    rollout.close()
    trajectories = cfg.grpo.global_batch_size * cfg.grpo.group_size
    keep = [k for k in rows[0] if k.startswith(("time/", "perf/", "sync/", "reward/mean", "rollout/response_tokens"))]
    return {"steps": [{k: r[k] for k in keep} for r in rows],
            "generation_tokens_per_s": [r["rollout/response_tokens"] * trajectories / r["time/rollout"] for r in rows]}


def timed_gather(engine, bucket_mb: int) -> dict:
    reset_peak()
    t0 = time.perf_counter()
    n_bytes = sum(t.numel() * t.element_size() for _, t in engine.iter_weights(bucket_mb))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"bucket_mb": bucket_mb, "gb": n_bytes / 1e9, "seconds": seconds, "gb_per_s": n_bytes / 1e9 / seconds,
            "peak_gib": gpu_gib()}


async def sandbox_pool(cfg, n: int = 200, concurrency: int = 16) -> dict:
    async with make_sandbox(cfg.sandbox) as sandbox:
        await sandbox.run(SANDBOX_SNIPPET)  # workers warm
        gate, latencies = asyncio.Semaphore(concurrency), []

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                result = await sandbox.run(SANDBOX_SNIPPET)
                latencies.append(time.perf_counter() - t0)
                if result.status != "ok" or result.stdout.strip() != "499500":
                    raise RuntimeError(f"sandbox gave {result.status}: {result.stdout!r} {result.stderr[-300:]!r}")

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - t0
    return {"kind": cfg.sandbox.kind, "executions": n, "concurrency": concurrency, "per_s": n / wall,
            "p50_ms": 1000 * statistics.median(latencies)}


async def vllm_part(cfg, engine, model_path: str) -> dict:
    """Rollout-engine life cycle on vLLM: generate, sleep, wake weights, streamed push, wake KV, verify."""
    from r1ci.rollout.engines.base import Sampling
    from r1ci.rollout.engines.vllm_engine import VLLMEngine

    m = cfg.model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # vLLM sizes itself from the free memory: return the trainer's cached blocks
    llm = VLLMEngine(model_path, dtype=m.dtype, seed=0, max_model_len=m.max_prompt_len + m.max_response_len,
                     gpu_memory_utilization=m.gpu_memory_utilization, sleep_level=m.sleep_level,
                     kv_cache_gib=cfg.engine.kv_cache_gib)
    out, prompt = {}, list(range(10, 74))
    try:
        t0 = time.perf_counter()
        outs = await asyncio.gather(*(llm.generate(prompt, Sampling(temperature=1.0, max_tokens=128, seed=i))
                                      for i in range(32)))
        out["generate_s"] = time.perf_counter() - t0
        out["generation_tokens_per_s"] = sum(len(o.token_ids) for o in outs) / out["generate_s"]
        for phase, act in (("sleep", llm.sleep), ("wake_weights", lambda: llm.wake_up(["weights"])),
                           ("push", lambda: llm.update_weights(engine.iter_weights(cfg.grpo.sync_bucket_mb))),
                           ("wake_kv_cache", lambda: llm.wake_up(["kv_cache"]))):
            reset_peak()
            t0 = time.perf_counter()
            act()
            out[f"{phase}_s"], out[f"{phase}_peak_gib"] = time.perf_counter() - t0, gpu_gib()
        from r1ci.training.weight_sync import verify

        check = await verify(engine, llm, cfg.grpo.sync_tolerance)
        out["sync_max_abs_diff"], out["sync_tokens"] = check.max_abs_diff, check.n_tokens
    finally:
        llm.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, the tiny model's widths")
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device; use --dry-run on CPU")
    t_start = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="r1ci-gpu-check-"))
    model_path = build_model(root, args.dry_run)
    try:
        cfg = config(root, model_path, args.dry_run, "local")
        asyncio.run(sandbox_pool(cfg, n=4, concurrency=1))
    except SandboxUnavailable as e:
        print(f"gpu_check: bubblewrap cannot run here ({e}); the sandbox runs unsafe (no isolation)")
        cfg = config(root, model_path, args.dry_run, "unsafe")
    res: dict = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                 "dry_run": args.dry_run, "model": "tiny" if args.dry_run else "Qwen2.5-1.5B widths, random",
                 "sandbox": cfg.sandbox.kind}
    engine = build_engine(EngineSpec(model_path, cfg.model, cfg.grpo))
    res["n_params"] = engine.n_params
    res["sft"] = sft_steps(cfg, engine, seq_len=256 if args.dry_run else 2048, n_steps=5)
    res["grpo"] = asyncio.run(grpo_steps(cfg, engine, model_path, n_steps=3))
    res["gather"] = timed_gather(engine, cfg.grpo.sync_bucket_mb)
    res["sandbox_pool"] = asyncio.run(sandbox_pool(cfg, n=48 if args.dry_run else 400))
    if importlib.util.find_spec("vllm") is None:
        print("gpu_check: vLLM is not installed here: part 2 (sleep/wake, push into vLLM, verified sync) skipped")
        res["vllm"] = {"skipped": "vLLM is not installed"}
    else:
        res["vllm"] = asyncio.run(vllm_part(cfg, engine, model_path))
    res["total_s"] = time.perf_counter() - t_start
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
