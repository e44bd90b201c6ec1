"""Multi-turn SFT (paper: full-parameter, loss on model-written tokens only, cosine + warmup, 3 epochs).

`SFTTrainer.fit` is the loop, top to bottom: resume -> for each step: plan -> micro-batches ->
forward/backward -> step(lr_at(step)) -> log -> checkpoint. Data format and batching decisions are in
r1ci/training/sft_data.py. Loss: the token-mean of -log p over every loss_mask==1 token of the whole
optimiser step (all micro-batches, all ranks), the paper's "loss only on model-written tokens".

Resume: a checkpoint holds the engine (model, optimiser), per-rank RNG and `SFTState`; the data order is a
pure function of (seed, epoch), so `step` alone says where the data cursor is. A restarted run in the
same output dir continues from the last complete checkpoint and ends with the same weights.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from r1ci import requeue
from r1ci.config import SFTConfig
from r1ci.training.engine import TrainEngine
from r1ci.training.losses import masked_nll_sum, shift_mask
from r1ci.training.metrics import peak_flops, train_flops
from r1ci.training.schedule import lr_at, warmup_steps_for
from r1ci.training.step_end import end_of_step
from r1ci.training.sft_data import MicroPlan, SFTExample, StepPlan, collate, plan_epoch, steps_per_epoch

log = logging.getLogger(__name__)


@dataclass
class SFTState:
    """Everything trainer_state.json holds besides engine and RNG files (style.md #9)."""

    step: int  # optimiser steps done
    epoch: int  # data cursor: epoch of the next step ...
    step_in_epoch: int  # ... and steps of it already consumed
    total_steps: int
    warmup_steps: int
    data_sha: str  # the sft.jsonl this run trains on: resuming on other data is refused
    wandb_run_id: str | None
    tokens_seen: int = 0  # real (unpadded) tokens, all ranks
    last_loss: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # room for e.g. a curriculum stage


@dataclass(frozen=True)
class StepMetrics:
    loss: float
    grad_norm: float
    lr: float
    n_tokens: int  # real tokens of the step, all ranks
    n_loss_tokens: int
    seconds: float
    tflops: float  # achieved, all ranks together
    mfu: float | None  # None where the device has no known peak (CPU)

    def to_wandb(self) -> dict[str, float]:
        out = {"train/loss": self.loss, "train/grad_norm": self.grad_norm, "train/lr": self.lr,
               "train/tokens_per_s": self.n_tokens / self.seconds, "train/tflops": self.tflops,
               "train/step_s": self.seconds, "train/loss_tokens": float(self.n_loss_tokens)}
        if self.mfu is not None:
            out["train/mfu"] = self.mfu
        return out

    def line(self, step: int, total: int) -> str:
        mfu = f"{100 * self.mfu:.1f}%" if self.mfu is not None else "n/a"
        return (f"step {step}/{total} | loss {self.loss:.4f} | lr {self.lr:.3g} | gnorm {self.grad_norm:.3f} | "
                f"{self.n_tokens / self.seconds:,.0f} tok/s | {self.tflops:.3g} TFLOP/s | mfu {mfu} | "
                f"{self.seconds:.2f} s")


class SFTTrainer:
    def __init__(self, engine: TrainEngine, examples: list[SFTExample], pad_id: int, sft: SFTConfig,
                 ckpt_root: Path, wandb_run: Any, data_sha: str):
        self.engine, self.examples, self.pad_id, self.sft = engine, examples, pad_id, sft
        self.ckpt_root, self.run, self.data_sha = ckpt_root, wandb_run, data_sha
        self.steps_per_epoch = steps_per_epoch(len(examples), sft.global_batch_size)
        self._plans: dict[int, list[StepPlan]] = {}
        cfg = engine.module.config
        self._shape = (engine.n_params, cfg.num_hidden_layers, cfg.hidden_size)
        self._peak = peak_flops(engine.device, engine.spec.dtype)

    # ---- the loop ----
    def fit(self) -> SFTState:
        state = self.resume_or_start()
        main = self.engine.dist.is_main
        self.engine.train()
        with requeue.deferred(), logging_redirect_tqdm(), tqdm(
                total=state.total_steps, initial=state.step, desc="sft", unit="step", disable=not main) as bar:
            while state.step < state.total_steps:
                lr = lr_at(state.step, peak_lr=self.sft.lr, total_steps=state.total_steps,
                           warmup_steps=state.warmup_steps, kind=self.sft.lr_schedule)
                metrics = self.train_step(self.plan(state.step), lr)
                state = self.advance(state, metrics)
                self.run.log({**metrics.to_wandb(), "train/epoch": state.step / self.steps_per_epoch},
                             step=state.step)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics.loss:.4f}", lr=f"{lr:.2g}")
                if main:
                    log.info(metrics.line(state.step, state.total_steps))
                end_of_step(self.engine, self.ckpt_root, state.step, is_last=state.step == state.total_steps,
                            save_every=self.sft.save_every, state=asdict(state), wandb_run=self.run)
        return state

    def train_step(self, plan: StepPlan, lr: float) -> StepMetrics:
        """One optimiser step over this rank's micro-batches of `plan`."""
        t0 = time.perf_counter()
        world = self.engine.dist.world_size
        # DeepSpeed averages gradients over ranks: scale each SUM so the average is the step's token-mean.
        scale = world / max(1, plan.n_loss_tokens)
        loss_sum, n_tokens, flops = torch.zeros(()), 0, 0.0
        for j, micro in enumerate(plan.micro):
            mb = collate(self.examples, micro, self.pad_id)
            logp = self.engine.forward_logprobs(mb.input_ids, mb.attention_mask)
            nll = masked_nll_sum(logp, shift_mask(mb.loss_mask).to(logp.device))
            self.engine.backward(nll * scale, last_micro_batch=j == len(plan.micro) - 1)
            loss_sum = loss_sum.to(nll.device) + nll.detach()  # no host sync per micro-batch
            n_tokens += 0 if micro.dummy else int(mb.attention_mask.sum())
            flops += train_flops(*self._shape, *mb.input_ids.shape)
        grad_norm = self.engine.step(lr)
        seconds = time.perf_counter() - t0
        loss_sum, n_tokens, flops = (self.engine.all_reduce_sum(float(x)) for x in (loss_sum, n_tokens, flops))
        return StepMetrics(loss=loss_sum / max(1, plan.n_loss_tokens), grad_norm=grad_norm, lr=lr,
                           n_tokens=int(n_tokens), n_loss_tokens=plan.n_loss_tokens, seconds=seconds,
                           tflops=flops / seconds / 1e12,
                           mfu=flops / seconds / (self._peak * world) if self._peak else None)

    # ---- data cursor and state ----
    def plan(self, step: int) -> StepPlan:
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch not in self._plans:
            self._plans = {epoch: plan_epoch(
                self.examples, epoch=epoch, seed=self.sft.seed, global_batch=self.sft.global_batch_size,
                micro_batch=self.engine.spec.model.micro_batch_size, rank=self.engine.dist.rank,
                world_size=self.engine.dist.world_size)}
        return self._plans[epoch][index]

    def advance(self, state: SFTState, m: StepMetrics) -> SFTState:
        step = state.step + 1
        epoch, in_epoch = divmod(step, self.steps_per_epoch)
        return SFTState(**{**asdict(state), "step": step, "epoch": epoch, "step_in_epoch": in_epoch,
                           "tokens_seen": state.tokens_seen + m.n_tokens, "last_loss": m.loss})

    def resume_or_start(self) -> SFTState:
        total = self.steps_per_epoch * self.sft.epochs
        fresh = SFTState(step=0, epoch=0, step_in_epoch=0, total_steps=total,
                         warmup_steps=warmup_steps_for(total, self.sft.warmup_ratio), data_sha=self.data_sha,
                         wandb_run_id=getattr(self.run, "id", None))
        saved = self.engine.load_checkpoint(self.ckpt_root)
        if saved is None:
            return fresh
        state = SFTState(**saved)
        if state.data_sha != self.data_sha or state.total_steps != total:
            raise RuntimeError(f"checkpoint in {self.ckpt_root} was made on other data or another step count "
                               f"(sha {state.data_sha} vs {self.data_sha}, steps {state.total_steps} vs {total}); "
                               "train into a fresh output dir")
        if fresh.wandb_run_id and state.wandb_run_id != fresh.wandb_run_id:
            log.warning("W&B run id changed on resume: %s -> %s", state.wandb_run_id, fresh.wandb_run_id)
            state.wandb_run_id = fresh.wandb_run_id
        log.info("resumed from step %d/%d (epoch %d, step %d of it)", state.step, total, state.epoch,
                 state.step_in_epoch)
        return state


def loss_on_batch(engine: TrainEngine, examples: list[SFTExample], pad_id: int) -> float:
    """Token-mean loss of `examples` without updating (eval / tests)."""
    mb = collate(examples, MicroPlan(tuple(range(len(examples)))), pad_id)
    with torch.no_grad():
        logp = engine.forward_logprobs(mb.input_ids, mb.attention_mask)
    mask = shift_mask(mb.loss_mask).to(logp.device)
    return float(masked_nll_sum(logp, mask) / mask.sum().clamp(min=1))
