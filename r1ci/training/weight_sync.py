"""Push trainer weights into the rollout engine after every optimiser step, and prove the push worked.

Silent sync failures are the classic GRPO bug (importance ratios far from 1, "training" that changes
nothing). After each push the engine samples a short continuation of a fixed probe prompt; the trainer
scores the same tokens; the two log-prob vectors must agree within a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from r1ci.rollout.engines.base import Engine, Sampling
from r1ci.rollout.engines.lifecycle import EngineState
from r1ci.training.engine import TrainEngine

PROBE = "Question: What is 12 * 34? Write Python code to compute it.\n"


class WeightSyncError(RuntimeError):
    """The rollout engine does not generate with the trainer's weights."""


@dataclass(frozen=True)
class SyncCheck:
    max_abs_diff: float
    n_tokens: int


async def push_and_verify(trainer: TrainEngine, engine: Engine, tolerance: float, seed: int = 0,
                          bucket_mb: int = 512) -> SyncCheck:
    """Wake the engine's weights when it sleeps, push, wake its KV cache, verify: it ends awake.

    The push is a stream (trainer.iter_weights): ZeRO-3 gathers `bucket_mb` at a time, never a full state
    dict, and every rank pushes into its own engine shard and runs the probe check itself."""
    if engine.state is EngineState.ASLEEP:
        engine.wake_up(["weights"])
    engine.update_weights(trainer.iter_weights(bucket_mb))
    if engine.state is EngineState.WEIGHTS:
        engine.wake_up(["kv_cache"])
    return await verify(trainer, engine, tolerance, seed)


async def verify(trainer: TrainEngine, engine: Engine, tolerance: float, seed: int = 0) -> SyncCheck:
    """Compare the engine's sampled-token log-probs with the trainer's on the same sequence."""
    prompt = list(engine.tokenizer.encode(PROBE, add_special_tokens=False))
    # An engine split over ranks samples on all of them (its group's leader drives); every rank checks
    # the sample against the trainer, whose forward is a collective under ZeRO-3.
    out = engine.share(await engine.lead(lambda: engine.generate(prompt, Sampling(temperature=1.0, max_tokens=16,
                                                                                   seed=seed))))
    ids = torch.tensor([prompt + out.token_ids])
    with torch.no_grad():
        trainer_logp = trainer.forward_logprobs(ids, torch.ones_like(ids))[0, len(prompt) - 1:].cpu()
    diff = (trainer_logp - torch.tensor(out.logprobs)).abs()
    check = SyncCheck(max_abs_diff=float(diff.max()) if diff.numel() else 0.0, n_tokens=diff.numel())
    if check.max_abs_diff > tolerance:
        raise WeightSyncError(f"rollout engine and trainer disagree after the weight push: max |dlogp| = "
                              f"{check.max_abs_diff:.3g} > {tolerance:g} over {check.n_tokens} probe tokens")
    return check
