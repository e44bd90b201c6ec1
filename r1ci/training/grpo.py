"""GRPO with interpreter-masked loss (paper section "RL"), one step top to bottom:

  prompts (curriculum schedule, pure function of the step) -> G multi-turn rollouts each (vLLM + sandbox)
  -> rewards -> drop groups with sandbox infra errors (counted) -> group advantages
  -> reference log-probs -> PPO-clip + KL loss over model tokens only -> optimiser step
  -> push weights to vLLM -> verify the push -> log -> checkpoint.

By default one optimiser step per batch: the policy that sampled a batch is the one being updated, so the
PPO ratio is 1 (old_logp = logp.detach()). With grpo.updates_per_batch = U > 1 the batch is split into U
mini-batches, one optimiser step each, against the log-probs of the pre-update policy: the clip then
bounds the later steps (policy/clip_frac, policy/ratio_abs_dev). What we monitor as well is the ratio between the trainer's and vLLM's log-probs of the sampled tokens: far
from 1 means the engines disagree (a sync bug), which raises an alarm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from r1ci import requeue
from r1ci.config import GRPOConfig, RewardConfig, RolloutConfig
from r1ci.curriculum.sampler import Schedule, batch_indices
from r1ci.tracking import StepLog
from r1ci.rollout.engines.base import Engine, Sampling
from r1ci.rollout.loop import InterpreterFormatter, RolloutJob, Style, run_rollouts
from r1ci.rollout.metrics import step_metrics
from r1ci.rollout.reward import score_trajectory
from r1ci.rollout.trajectory import Trajectory
from r1ci.seeds import grid_seed
from r1ci.tasks import TaskItem
from r1ci.training.engine import TrainEngine
from r1ci.training.faults import kill_point
from r1ci.training.grpo_loss import group_advantages, policy_loss
from r1ci.models.logprobs import sequence_logprobs
from r1ci.training.losses import shift_mask
from r1ci.training.metrics import peak_flops, train_flops
from r1ci.training.schedule import lr_at, warmup_steps_for
from r1ci.training.sft_data import MicroPlan, SFTExample, collate
from r1ci.training.step_end import end_of_step
from r1ci.training.weight_sync import push_and_verify

log = logging.getLogger(__name__)


@dataclass
class GRPOState:
    """Everything a checkpoint holds besides model/optimiser/RNG files. The prompt cursor is the step
    itself (sampler.batch_indices is a pure function of it)."""

    step: int = 0
    curriculum_stage: int = 0
    curriculum_state: dict | None = None  # the online curriculum's running counts and pool
    groups_dropped: int = 0  # groups excluded for sandbox infra errors, over the run
    groups_filtered: int = 0  # zero-variance groups left out by the DAPO-style filter, over the run
    wandb_run_id: str | None = None


@dataclass
class Rollouts:
    trajectories: list[Trajectory]
    rewards: list[float]  # per trajectory (0 for infra-failed ones, which are dropped)
    kept: list[int]  # indices of trajectories in groups without infra errors
    groups_dropped: int
    groups_filtered: int = 0  # zero-variance groups removed from `kept` (grpo.filter_zero_variance)


@dataclass
class EngineReference:
    """The frozen KL reference as host-memory weights, scored on the rollout engine
    (grpo.ref_on_rollout_engine): no second model on the training devices. It costs one extra weight
    push per step; the policy goes back with the step's own push, which is verified as always."""

    weights: dict[str, torch.Tensor]


class AlarmError(RuntimeError):
    """A monitored invariant (sandbox health, engine agreement) is broken and hard stop is on."""


class PhaseTimer:
    """Named wall-clock timers per RL phase (style.md #9), and on a GPU each phase's peak memory."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_gib: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        if cuda:
            self.peak_gib[name] = max(self.peak_gib.get(name, 0.0), torch.cuda.max_memory_allocated() / 2**30)

    def metrics(self) -> dict[str, float]:
        return {**{f"time/{k}": v for k, v in self.seconds.items()},
                **{f"perf/{k}_peak_gib": v for k, v in self.peak_gib.items()}}


class GRPOTrainer:
    def __init__(self, *, engine: TrainEngine, rollout_engine: Engine, sandbox: Any, reference: Any | None,
                 items: list[TaskItem], schedule: Schedule, style: Style, fmt: InterpreterFormatter,
                 rollout_config: RolloutConfig, grpo: GRPOConfig, steps: int, ckpt_root: Path, wandb_run: Any,
                 pad_id: int, history_path: Path | None = None):
        self.engine, self.rollout_engine, self.sandbox, self.reference = engine, rollout_engine, sandbox, reference
        self.items, self.schedule, self.style, self.fmt = items, schedule, style, fmt
        self.rollout_config, self.grpo, self.steps = rollout_config, grpo, steps  # steps: grpo.total_steps(curriculum)
        self.ckpt_root, self.run, self.pad_id = ckpt_root, wandb_run, pad_id
        self.history_path = history_path  # every step's metrics, across resumes (StepLog)
        cfg = engine.module.config
        self._shape = (engine.n_params, cfg.num_hidden_layers, cfg.hidden_size)  # for the update's FLOPs
        self._peak = peak_flops(engine.device, engine.spec.dtype)
        self.history: list[dict[str, float]] = []  # the steps this process ran

    # ---- the loop ----
    async def fit(self) -> GRPOState:
        state = self.resume_or_start()
        step_log = StepLog(self.history_path, state.step, enabled=self.engine.dist.is_main) if self.history_path else None
        await push_and_verify(self.engine, self.rollout_engine, self.grpo.sync_tolerance,  # resumed weights too
                              bucket_mb=self.grpo.sync_bucket_mb)
        with requeue.deferred():
            while state.step < self.steps:
                metrics = await self.train_step(state)
                state.step += 1
                if hasattr(self.schedule, "state_dict"):
                    state.curriculum_state = self.schedule.state_dict()
                self.history.append(metrics)
                if step_log is not None:
                    step_log.append(state.step, metrics)
                self.run.log({k: v for k, v in metrics.items() if k != "data/prompts"}, step=state.step)
                log.info("rl step %d/%d reward %.3f acc %.3f kl %.2e sync %.1e (%.1fs)", state.step,
                         self.steps, metrics["reward/mean"], metrics["reward/accuracy"],
                         metrics["policy/kl"], metrics["sync/max_abs_diff"], metrics["time/step"])
                end_of_step(self.engine, self.ckpt_root, state.step, is_last=state.step == self.steps,
                            save_every=self.grpo.save_every, state=asdict(state), wandb_run=self.run)
        return state

    async def train_step(self, state: GRPOState) -> dict[str, float]:
        timer = PhaseTimer()
        t0 = time.perf_counter()
        stage, pool = self.schedule.drawable(state.step)
        if stage != state.curriculum_stage:
            log.info("curriculum: stage %d -> %d at step %d (%d samples drawable)", state.curriculum_stage,
                     stage, state.step, len(pool))
            state.curriculum_stage = stage
        with timer("rollout"):
            ro = await self.rollout(state.step)
        batch = drop_zero_variance(ro, self.grpo.group_size) if self.grpo.filter_zero_variance else ro
        ro_metrics = step_metrics(ro.trajectories, ro.rewards, ro.kept, ro.groups_dropped, self.grpo.group_size,
                                  self.engine.all_reduce)  # the whole step's
        filtered = self.engine.all_reduce_sum(batch.groups_filtered)
        state.groups_dropped += int(ro_metrics["rollout/groups_dropped"])
        state.groups_filtered += int(filtered)
        with timer("ref"):
            ref_rows = await self.engine_reference_logprobs(batch)
        with timer("update"):
            loss_metrics = self.update(batch, state.step, ref_rows)
        with timer("sync"):
            check = await push_and_verify(self.engine, self.rollout_engine, self.grpo.sync_tolerance,
                                          seed=state.step, bucket_mb=self.grpo.sync_bucket_mb)
        flops = loss_metrics.pop("train/flops")  # the update's FLOPs of all ranks: its TFLOP/s below
        ids = [t.item_id for t in ro.trajectories]
        prompts = sorted({i for rank_ids in self.engine.all_gather_objects(ids) for i in rank_ids})
        metrics = {"data/prompts": prompts,
                   **ro_metrics, **loss_metrics,
                   "sync/max_abs_diff": self.engine.all_reduce([check.max_abs_diff], "max")[0],
                   "rollout/trajectories_per_rank_max": self.engine.all_reduce([len(ro.trajectories)], "max")[0],
                   "curriculum/stage": float(stage),
                   "curriculum/pool_size": float(len(pool)),
                   "data/groups_dropped_total": float(state.groups_dropped),
                   "data/groups_filtered": filtered,
                   "data/groups_filtered_total": float(state.groups_filtered),
                   **self._throughput(flops, timer.seconds["update"]),
                   **timer.metrics(), "time/step": time.perf_counter() - t0}
        self.check_alarms(metrics)
        return metrics

    # ---- phases ----
    async def rollout(self, step: int) -> Rollouts:
        """G rollouts per prompt of this rank's share of the step's prompts; rewards; infra filter."""
        batch = batch_indices(self.schedule, step, self.grpo.global_batch_size, self.grpo.seed)
        # Prompts are dealt round-robin to the rollout engines: one per rank, or one per group of `tp`
        # consecutive ranks when the model is split over them (its leader rolls out, the others mirror).
        tp, rank, g = self.rollout_engine.tp_ranks, self.engine.dist.rank, self.grpo.group_size
        mine = list(range(rank // tp, len(batch), self.engine.dist.world_size // tp))
        # seeds follow a prompt's place in the whole step's batch: any number of ranks samples the same
        jobs = [RolloutJob(self.items[batch[k]], self.style, seed=grid_seed((step, k, j), (self.grpo.global_batch_size, g)))
                for k in mine for j in range(g)]
        trajs = await self.rollout_engine.lead(lambda: run_rollouts(
            jobs, self.rollout_engine, self.sandbox, self.fmt, self.rollout_config, Sampling(temperature=self.grpo.temperature),
            desc=None, on_done=lambda _: kill_point("rollout", step + 1)))
        if tp > 1:  # each rank of the group trains on every tp-th of its prompts
            trajs = self.rollout_engine.share(trajs)
            share = [p for p in range(len(mine)) if p % tp == rank % tp]
            mine = [mine[p] for p in share]
            jobs, trajs = ([x[p * g + j] for p in share for j in range(g)] for x in (jobs, trajs))
        prompts = [batch[k] for k in mine]
        self.rollout_engine.sleep()  # the update gets its memory; the sync wakes it (weight_sync.py)
        ro = score_groups(trajs, [j.item for j in jobs], self.grpo.group_size, self.rollout_config.reward)
        if hasattr(self.schedule, "observe"):
            self._observe(ro, [i for i in prompts for _ in range(g)])
        return ro

    def _observe(self, ro: Rollouts, samples: list[int]) -> None:
        """Feed every rank's scored answers to the online curriculum (the same counts on every rank)."""
        counts = [0.0] * (2 * len(self.items))  # per sample: answers, correct answers
        for i in ro.kept:
            counts[2 * samples[i]] += 1
            counts[2 * samples[i] + 1] += float(ro.trajectories[i].reward.correct)
        counts = self.engine.all_reduce(counts)
        for s in range(len(self.items)):
            if counts[2 * s]:
                self.schedule.observe(s, int(counts[2 * s]), int(counts[2 * s + 1]))

    async def engine_reference_logprobs(self, ro: Rollouts) -> dict[int, list[float]] | None:
        """Reference log-probs of the kept trajectories from the rollout engine (EngineReference only)."""
        if not isinstance(self.reference, EngineReference) or not ro.kept or self.grpo.kl_coef == 0:
            return None
        engine = self.rollout_engine
        if engine.tp_ranks > 1:
            raise NotImplementedError("grpo.ref_on_rollout_engine with vLLM tensor parallel across ranks")
        engine.wake_up(["weights"])
        engine.update_weights(self.reference.weights)
        engine.wake_up(["kv_cache"])
        rows = await asyncio.gather(*(engine.score(ro.trajectories[i].token_ids) for i in ro.kept))
        engine.sleep()
        return dict(zip(ro.kept, rows))

    def update(self, ro: Rollouts, step: int, ref_rows: dict[int, list[float]] | None = None) -> dict[str, float]:
        """`updates_per_batch` optimiser steps (PPO mini-batches) of PPO-clip + KL over model tokens of the
        kept groups. `ref_rows`: reference log-probs per trajectory when the rollout engine scored them
        (else the frozen model does). With one update the sampling policy is the one updated (ratio 1);
        with more, the later mini-batches see a moved policy and the clip bounds how far it goes."""
        lr = lr_at(step, peak_lr=self.grpo.lr, total_steps=self.steps,
                   warmup_steps=warmup_steps_for(self.steps, self.grpo.warmup_ratio), kind=self.grpo.lr_schedule)
        kept = ro.kept
        sums = dict.fromkeys(("loss", "kl", "clip", "logp", "log_ratio", "ratio_dev", "sampled", "flops", "grad_norm"),
                             0.0)
        most_kept = int(self.engine.all_reduce([len(kept)], "max")[0])
        if most_kept == 0:  # no rank has a trajectory to learn from: every rank skips the step
            return {"train/lr": lr, **self._update_metrics(sums, 1.0, 1)}
        adv = (group_advantages(torch.tensor([ro.rewards[i] for i in kept]), self.grpo.group_size,
                                self.grpo.std_normalize) if kept else torch.zeros(0))
        examples = [SFTExample(t.item_id, t.task, tuple(t.token_ids),
                               tuple(t.loss_mask if self.grpo.mask_interpreter else t.response_mask))
                    for t in (ro.trajectories[i] for i in kept)]
        n_updates = min(self.grpo.updates_per_batch, most_kept)  # the same on every rank; none empty everywhere
        old = self._old_logprobs(examples) if n_updates > 1 else None
        tokens = 0.0
        for u in range(n_updates):  # mini-batch u: every n_updates-th trajectory, from u
            part = list(range(u, len(kept), n_updates))
            totals = self._totals([examples[i] for i in part])
            for k, v in self._minibatch(ro, kept, examples, part, adv, old, ref_rows, totals).items():
                sums[k] += v
            sums["grad_norm"] += self.engine.step(lr)
            kill_point("update", step + 1)
            tokens += totals["tokens"]
        # grad norms are global already; the rest are this rank's sums (its loss share is scaled by world)
        local = [k for k in sums if k != "grad_norm"]
        for k, v in zip(local, self.engine.all_reduce([sums[k] for k in local])):
            sums[k] = v
        sums["loss"] /= self.engine.dist.world_size
        return {"train/lr": lr, **self._update_metrics(sums, max(1.0, tokens), n_updates)}

    def _throughput(self, flops: float, seconds: float) -> dict[str, float]:
        """The update's achieved TFLOP/s, all ranks together, and its MFU where the device's peak is known.
        Counted: the loss passes (forward + backward); not the old-policy forwards of updates_per_batch > 1."""
        out = {"perf/update_tflops": flops / max(seconds, 1e-9) / 1e12}
        if self._peak:
            out["perf/update_mfu"] = flops / max(seconds, 1e-9) / (self._peak * self.engine.dist.world_size)
        return out

    def _micro_batches(self, examples: list[SFTExample], order: list[int]) -> list[MicroPlan]:
        """`order` in micro-batches, padded with loss-free dummies to the longest list of any rank: under
        ZeRO-3 every forward gathers parameters collectively, so all ranks must run as many."""
        size = self.engine.spec.model.micro_batch_size
        plans = [MicroPlan(tuple(order[j:j + size])) for j in range(0, len(order), size)]
        most = int(self.engine.all_reduce([len(plans)], "max")[0])
        return plans + [MicroPlan((0,), dummy=True)] * (most - len(plans))

    def _dummy_examples(self, examples: list[SFTExample]) -> list[SFTExample]:
        """A rank without kept trajectories still needs one example to run its dummy passes on."""
        return examples or [SFTExample("dummy", "dummy", (self.pad_id, self.pad_id), (0, 0))]

    def _minibatch(self, ro: Rollouts, kept: list[int], examples: list[SFTExample], part: list[int],
                   adv: torch.Tensor, old: list[torch.Tensor] | None, ref_rows: dict[int, list[float]] | None,
                   totals: dict[str, float]) -> dict[str, float]:
        """Backward over one mini-batch (`part` indexes `examples`), in length-bucketed micro-batches."""
        order = sorted(part, key=lambda i: -len(examples[i]))
        plans = self._micro_batches(examples, order)
        sums = dict.fromkeys(("loss", "kl", "clip", "logp", "log_ratio", "ratio_dev", "sampled", "flops"), 0.0)
        for j, plan in enumerate(plans):
            last = j == len(plans) - 1
            mb = collate(self._dummy_examples(examples), plan, self.pad_id)
            sums["flops"] += train_flops(*self._shape, *mb.input_ids.shape)
            logp = self.engine.forward_logprobs(mb.input_ids, mb.attention_mask)
            if plan.dummy:  # gradient-free: it only keeps this rank in step with the others
                self.engine.backward(logp.sum() * 0.0, last_micro_batch=last)
                continue
            idx = list(plan.indices)
            mask = shift_mask(mb.loss_mask).to(self.engine.device)
            old_logp = logp.detach() if old is None else _stack(old, idx, logp.shape[1]).to(logp.device)
            ref = self._ref_logprobs(mb, [kept[i] for i in idx], ref_rows)
            loss, parts = policy_loss(logp, old_logp, ref, adv[idx].to(logp.device), mask, self.grpo.clip_eps,
                                      self.grpo.kl_coef, self.grpo.loss_agg)
            weight = self._micro_weight(mask, totals)
            self.engine.backward(loss * weight, last_micro_batch=last)
            trajs = [ro.trajectories[kept[i]] for i in idx]
            vllm_logp = _shifted([t.logprobs for t in trajs], mask.shape[1])
            sampled = _shifted([t.loss_mask for t in trajs], mask.shape[1]).bool()  # tokens vLLM sampled
            m = mask.bool()
            sums["loss"] += float(loss.detach()) * weight
            sums["kl"] += float(parts["kl"][m].sum())
            sums["clip"] += float(parts["clipped"][m].sum())
            sums["ratio_dev"] += float((parts["ratio"][m] - 1.0).abs().sum())
            sums["logp"] += float(logp.detach()[m].sum())
            sums["log_ratio"] += float((logp.detach().cpu() - vllm_logp)[sampled].abs().sum())
            sums["sampled"] += float(sampled.sum())
        return sums

    def _old_logprobs(self, examples: list[SFTExample]) -> list[torch.Tensor]:
        """Per-token log-probs of every example under the policy before this batch's updates: the PPO
        ratio's denominator for all mini-batches."""
        out: list[torch.Tensor] = [torch.empty(0)] * len(examples)
        with torch.no_grad():
            for plan in self._micro_batches(examples, list(range(len(examples)))):
                mb = collate(self._dummy_examples(examples), plan, self.pad_id)
                logp = self.engine.forward_logprobs(mb.input_ids, mb.attention_mask).detach().cpu()
                for row, i in enumerate(() if plan.dummy else plan.indices):
                    out[i] = logp[row, :len(examples[i]) - 1]
        return out

    @staticmethod
    def _update_metrics(sums: dict[str, float], n_tok: float, n_updates: int) -> dict[str, float]:
        return {"train/grad_norm": sums["grad_norm"] / n_updates, "policy/loss": sums["loss"] / n_updates,
                "policy/kl": sums["kl"] / n_tok, "policy/clip_frac": sums["clip"] / n_tok,
                "policy/ratio_abs_dev": sums["ratio_dev"] / n_tok,  # mean |pi / pi_old - 1|: 0 with one update
                "policy/entropy": -sums["logp"] / n_tok,  # sampled-token estimate of the entropy
                "policy/abs_log_ratio_vllm": sums["log_ratio"] / max(1.0, sums["sampled"]),
                "train/flops": sums["flops"]}

    def _totals(self, examples: list[SFTExample]) -> dict[str, float]:
        tokens = sum(e.n_loss_tokens for e in examples)
        seqs = sum(e.n_loss_tokens > 0 for e in examples)
        return {"tokens": self.engine.all_reduce_sum(tokens), "seqs": self.engine.all_reduce_sum(seqs)}

    def _micro_weight(self, mask: torch.Tensor, totals: dict[str, float]) -> float:
        """Turn a micro-batch mean into its share of the step's mean (DeepSpeed averages over ranks)."""
        world = self.engine.dist.world_size
        if self.grpo.loss_agg == "token_mean":
            return world * float(mask.sum()) / max(1.0, totals["tokens"])
        return world * float((mask.sum(dim=1) > 0).sum()) / max(1.0, totals["seqs"])

    def _ref_logprobs(self, mb, traj_idx: list[int], ref_rows: dict[int, list[float]] | None) -> torch.Tensor | None:
        """[B, T-1] reference log-probs of a micro-batch: pre-scored rows, or the frozen model's forward."""
        if self.reference is None or self.grpo.kl_coef == 0:
            return None
        if ref_rows is not None:
            return _shifted([ref_rows[i] for i in traj_idx], mb.input_ids.shape[1] - 1).to(self.engine.device)
        with torch.no_grad():
            return sequence_logprobs(self.reference, mb.input_ids.to(self.engine.device),
                                     mb.attention_mask.to(self.engine.device))

    def check_alarms(self, m: dict[str, float]) -> None:
        problems = []
        if m["sandbox/bad_rate"] > self.grpo.max_sandbox_error_rate:
            problems.append(f"sandbox bad-status rate {m['sandbox/bad_rate']:.2f} > {self.grpo.max_sandbox_error_rate}")
        if m["policy/abs_log_ratio_vllm"] > self.grpo.max_abs_log_ratio:
            problems.append(f"trainer/vLLM mean |log ratio| {m['policy/abs_log_ratio_vllm']:.3f} > "
                            f"{self.grpo.max_abs_log_ratio}")
        for p in problems:
            log.warning("ALARM: %s", p)
        if problems and self.grpo.alarm_hard_stop:
            raise AlarmError("; ".join(problems) + " (grpo.alarm_hard_stop=false to only warn)")

    # ---- state ----
    def resume_or_start(self) -> GRPOState:
        saved = self.engine.load_checkpoint(self.ckpt_root)
        state = GRPOState(**saved) if saved is not None else GRPOState()
        state.wandb_run_id = getattr(self.run, "id", None) or state.wandb_run_id
        if state.curriculum_state is not None:
            self.schedule.load_state_dict(state.curriculum_state)
        if saved is not None:
            log.info("resumed RL from step %d", state.step)
        return state


def score_groups(trajs: list[Trajectory], items: list[TaskItem], group_size: int,
                 weights: RewardConfig) -> Rollouts:
    """Reward every trajectory of groups without sandbox infra errors; drop and count the others.

    An infra error is the sandbox's failure, not the model's: scoring it 0 would skew the group's
    advantages, so the whole group leaves the batch.
    """
    rewards, kept, dropped = [], [], 0
    for start in range(0, len(trajs), group_size):
        group = trajs[start:start + group_size]
        if any(t.infra_failed for t in group):
            dropped += 1
            rewards += [0.0] * len(group)
            continue
        group_items = items[start:start + group_size]
        rewards += [score_trajectory(t, item, weights).total for t, item in zip(group, group_items)]
        kept += range(start, start + len(group))
    return Rollouts(trajs, rewards, kept, dropped)


def drop_zero_variance(ro: Rollouts, group_size: int) -> Rollouts:
    """DAPO-style filter: leave out kept groups whose rewards are all equal (zero advantage, no signal)."""
    kept, filtered = [], 0
    for start in range(0, len(ro.kept), group_size):
        group = ro.kept[start:start + group_size]
        if len({ro.rewards[i] for i in group}) == 1:
            filtered += 1
        else:
            kept += group
    return Rollouts(ro.trajectories, ro.rewards, kept, ro.groups_dropped, filtered)


def _stack(rows: list[torch.Tensor], idx: list[int], width: int) -> torch.Tensor:
    """[len(idx), width] of per-example log-prob rows, right-padded with 0."""
    out = torch.zeros(len(idx), width)
    for b, i in enumerate(idx):
        out[b, :len(rows[i])] = rows[i][:width]
    return out


def _shifted(rows: list[list[float]], width: int) -> torch.Tensor:
    """Per-token log-probs of whole sequences (index 0: the first token) in forward_logprobs' [B, T-1]
    layout, right-padded with 0."""
    out = torch.zeros(len(rows), width)
    for b, row in enumerate(rows):
        lp = torch.tensor(row[1:], dtype=torch.float32)
        out[b, :len(lp)] = lp
    return out


__all__ = ["EngineReference", "GRPOState", "GRPOTrainer", "Rollouts"]
