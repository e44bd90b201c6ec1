"""One training-engine abstraction for SFT and GRPO: token logprobs in, loss backward, step, save, load.

    engine = build_engine(EngineSpec(model_path, cfg.model, cfg.sft))   # typed configs (r1ci.config)
    for micro in step_batches:                       # any number of micro-batches per optimiser step
        logp = engine.forward_logprobs(ids, attention_mask)            # [B, T-1], float32
        engine.backward(loss_of(logp), last_micro_batch=micro is last) # caller scales the loss
    grad_norm = engine.step(lr_at(step, ...))         # clip, update, zero grads
    engine.save_checkpoint(root, step, state) / engine.load_checkpoint(root) -> state
    engine.iter_weights(bucket_mb)                    # (name, tensor) stream, ZeRO-3 gathered a bucket at a time
    engine.full_state_dict()                          # consolidated weights on CPU: export, tests
    engine.save_pretrained(out_dir, tokenizer)        # HF format, loadable by transformers and vLLM

Backends (chosen once, by `sft.backend` / `grpo.backend`): `deepspeed` (ZeRO 0-3 from model.zero_stage; bf16 on GPU,
fp32 on CPU with gloo; world size 1 without a launcher, or torchrun/SLURM via r1ci.distributed) and
`torch` (plain AdamW, one process) for machines where DeepSpeed cannot be installed.

Gradient scaling contract: DeepSpeed (and DDP) AVERAGE gradients over ranks; callers that want a
token-mean over the whole optimiser step therefore scale each micro-batch's loss SUM by
`world_size / n_loss_tokens_of_the_step` (r1ci.training.sft does).
"""

from __future__ import annotations

import os
import socket
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from r1ci.config import ModelConfig, TrainConfig
from r1ci.distributed import DistInfo, dist_info
from r1ci.training import checkpoint as ckpt
from r1ci.training.faults import kill_point
from r1ci.models.logprobs import sequence_logprobs

BACKENDS = ("deepspeed", "torch")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class EngineSpec:
    """What an engine is built from: the weights, the model's typed config and the stage's optimiser config
    (cfg.sft or cfg.grpo). The engine reads its settings here and nowhere else."""

    model_path: str
    model: ModelConfig
    train: TrainConfig

    @property
    def dtype(self) -> str:
        """The training dtype: the model's on GPU, float32 on CPU (no fast bf16 matmuls there)."""
        return self.model.dtype if torch.cuda.is_available() else "float32"


class TrainEngine(ABC):
    """The loop-facing API; subclasses differ only in how they wrap the model and optimiser."""

    def __init__(self, spec: EngineSpec, module: torch.nn.Module, dist: DistInfo, device: torch.device):
        self.spec, self.module, self.dist, self.device = spec, module, dist, device

    # ---- compute ----
    @abstractmethod
    def _forward(self, **inputs: torch.Tensor) -> Any:
        """The model's forward through the backend's wrapper (ZeRO-3 gathers parameters in hooks)."""

    def forward_logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         temperature: float = 1.0) -> torch.Tensor:
        """Per-token logprobs [B, T-1] of input_ids[:, 1:]; grad flows when not under no_grad."""
        return sequence_logprobs(self._forward, input_ids.to(self.device), attention_mask.to(self.device),
                                 temperature)

    @abstractmethod
    def backward(self, loss: torch.Tensor, *, last_micro_batch: bool) -> None:
        """Accumulate gradients of `loss`; the last micro-batch of a step triggers the gradient reduction."""

    @abstractmethod
    def step(self, lr: float) -> float:
        """Set `lr`, clip to grad_clip, update, zero grads; return the global grad norm before clipping."""

    def iter_weights(self, bucket_mb: int = 512) -> Iterator[tuple[str, torch.Tensor]]:
        """The model's weights as (HF name, tensor) pairs on the training device, in state-dict order.

        A collective under ZeRO-3: every rank iterates to the end, in step. Backends whose ranks hold whole
        parameters yield the live tensors (no copy); ZeRO-3 gathers `bucket_mb` of parameters at a time, so
        a consumer that copies each tensor as it arrives (vLLM's reload, HFEngine.update_weights) needs at
        most one bucket (or the largest tensor, when it is bigger) beyond the model it already holds.
        """
        for name, tensor in self.module.state_dict().items():
            yield name, tensor.detach()

    def full_state_dict(self, rank0_only: bool = False) -> dict[str, torch.Tensor]:
        """Consolidated weights copied to CPU: every rank gets a copy, or only rank 0 with `rank0_only`
        (export: 7B in bf16 is 15 GB of host RAM per copy); the others get {}. A collective call."""
        keep = self.dist.is_main or not rank0_only
        return {name: t.to("cpu", copy=True) for name, t in self.iter_weights() if keep}

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def eval(self) -> None:
        self.module.train(False)

    @property
    def n_params(self) -> int:
        return sum(getattr(p, "ds_numel", p.numel()) for p in self.module.parameters())

    # ---- collectives ----
    def barrier(self) -> None:
        if self.dist.world_size > 1:
            torch.distributed.barrier()

    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """Element-wise sum (or max) over ranks, in float64: counts and metric sums."""
        t = torch.tensor(values, dtype=torch.float64)
        if self.dist.world_size > 1:
            t = t.to(self.device)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX if op == "max" else
                                         torch.distributed.ReduceOp.SUM)
        return t.cpu().tolist()

    def all_reduce_sum(self, value: float) -> float:
        return self.all_reduce([float(value)])[0]

    def all_gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (small, picklable), in rank order."""
        if self.dist.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    # ---- checkpoints ----
    @abstractmethod
    def _save_files(self, tag_dir: Path) -> None:
        """Model + optimiser files of this rank (collective: every rank calls it)."""

    @abstractmethod
    def _load_files(self, tag_dir: Path) -> None:
        """Inverse of _save_files."""

    def save_checkpoint(self, root: Path, step: int, state: dict[str, Any]) -> Path:
        """Model, optimiser, per-rank RNG and the loop's `state` (JSON) under root/step_<n>; then `latest`."""
        tag_dir = root / ckpt.tag_for(step)
        tag_dir.mkdir(parents=True, exist_ok=True)
        self._save_files(tag_dir)
        kill_point("checkpoint", step)
        ckpt.save_rng(tag_dir, self.dist.rank)
        self.barrier()
        if self.dist.is_main:
            ckpt.write_state_and_publish(root, tag_dir, state, self.spec.train.keep_checkpoints)
        self.barrier()
        return tag_dir

    def load_checkpoint(self, root: Path) -> dict[str, Any] | None:
        """Restore the last complete checkpoint under `root`; its loop state, or None when there is none."""
        tag_dir = ckpt.latest_tag_dir(root)
        if tag_dir is None:
            return None
        self._load_files(tag_dir)
        ckpt.load_rng(tag_dir, self.dist.rank)
        return ckpt.read_state(tag_dir)

    def save_pretrained(self, out_dir: Path, tokenizer: Any) -> None:
        """Final model in HF format (+ tokenizer), readable by other uids (a sandbox, vLLM, SLURM users)."""
        state_dict = self.full_state_dict(rank0_only=True)
        if self.dist.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.module.save_pretrained(out_dir, state_dict=state_dict)
            tokenizer.save_pretrained(out_dir)
            for f in out_dir.iterdir():  # save_pretrained writes 0600 (stack-notes)
                f.chmod(f.stat().st_mode | stat.S_IRGRP | stat.S_IROTH)
        self.barrier()


# ---------------------------------------------------------------------------------------------------
def setup_distributed() -> tuple[DistInfo, torch.device]:
    """Export rank/world/master from r1ci.distributed (torchrun or SLURM) for the backend to read.

    A single process gets a free port, so concurrent jobs on one machine never collide on 29500.
    """
    info = dist_info()
    env = os.environ
    for key, value in (("RANK", info.rank), ("LOCAL_RANK", info.local_rank), ("WORLD_SIZE", info.world_size),
                       ("MASTER_ADDR", info.master_addr)):
        env.setdefault(key, str(value))
    if "MASTER_PORT" not in env:
        env["MASTER_PORT"] = str(_free_port() if info.world_size == 1 else info.master_port)
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
        device = torch.device("cuda", info.local_rank)
    else:
        device = torch.device("cpu")
    return info, device


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_model(spec: EngineSpec, dtype: str) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=DTYPES[dtype])
    model.config.use_cache = False
    if spec.model.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def make_optimizer(model: torch.nn.Module, spec: EngineSpec) -> torch.optim.Optimizer:
    """AdamW; like HF Trainer, no weight decay on biases and norm weights (1-D tensors).

    A plain torch optimizer also keeps DeepSpeed from JIT-compiling its fused Adam (stack-notes).
    The lr here is a placeholder: every step sets it from r1ci.training.schedule.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            ndim = len(getattr(p, "ds_shape", p.shape))  # ZeRO-3 partitions params into flat shards
            (decay if ndim >= 2 else no_decay).append(p)
    t = spec.train
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=0.0, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_eps)


def build_engine(spec: EngineSpec) -> TrainEngine:
    """The engine `spec.train.backend` names: DeepSpeed wherever it installs, plain torch otherwise."""
    if spec.train.backend not in BACKENDS:
        raise ValueError(f"unknown backend {spec.train.backend!r}; expected one of {BACKENDS}")
    if spec.train.backend == "deepspeed":
        from r1ci.training.ds_engine import DeepSpeedEngine  # imports deepspeed: only when chosen

        return DeepSpeedEngine.create(spec)
    from r1ci.training.torch_engine import TorchEngine

    return TorchEngine.create(spec)


def weight_buckets(named: Iterable[tuple[str, torch.Tensor]], bucket_bytes: int) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Consecutive runs of (name, tensor) whose full sizes add up to at most `bucket_bytes` (a tensor bigger
    than that is a bucket of its own). A ZeRO-3 parameter counts at its gathered size (`ds_numel`)."""
    bucket: list[tuple[str, torch.Tensor]] = []
    size = 0
    for name, t in named:
        nbytes = getattr(t, "ds_numel", t.numel()) * t.element_size()
        if bucket and size + nbytes > bucket_bytes:
            yield bucket
            bucket, size = [], 0
        bucket.append((name, t))
        size += nbytes
    if bucket:
        yield bucket
