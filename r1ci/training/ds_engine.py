"""DeepSpeed backend of TrainEngine: ZeRO 0-3, bf16 on GPU, fp32 + gloo on CPU (stack-notes.md).

Imported only when backend=deepspeed. Before `import deepspeed` it points DeepSpeed at its CPU
accelerator on machines without CUDA, and at the op cache scripts/setup.sh warmed (the CPU comm op is
JIT-compiled on first use: 2-4 min cold).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
_OP_CACHE = Path(sys.prefix) / "torch_extensions"  # filled by scripts/setup.sh step 4
if _OP_CACHE.is_dir():
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(_OP_CACHE))

import deepspeed  # after the env above: DeepSpeed picks its accelerator at import

from r1ci.training.engine import (EngineSpec, TrainEngine, load_model, make_optimizer, setup_distributed,
                                 weight_buckets)

log = logging.getLogger(__name__)
logging.getLogger("DeepSpeed").setLevel(logging.WARNING)  # its INFO lines drown the training log


def ds_config(spec: EngineSpec) -> dict[str, Any]:
    """The DeepSpeed config, fully specified (no "auto" values: nothing here fills them in)."""
    return {
        "train_micro_batch_size_per_gpu": spec.model.micro_batch_size,
        "gradient_accumulation_steps": spec.train.gradient_accumulation_steps,
        "gradient_clipping": spec.train.grad_clip,
        "zero_optimization": {"stage": spec.model.zero_stage, "stage3_gather_16bit_weights_on_model_save": True},
        "bf16": {"enabled": spec.dtype == "bfloat16"},
        "fp16": {"enabled": spec.dtype == "float16"},
        "zero_allow_untested_optimizer": True,  # the client torch AdamW (no fused-Adam JIT build)
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


class DeepSpeedEngine(TrainEngine):
    def __init__(self, spec: EngineSpec, ds_engine: Any, dist: Any, device: torch.device):
        super().__init__(spec, ds_engine.module, dist, device)
        self.ds = ds_engine
        self._pre_step_norm: float | None = None

    @classmethod
    def create(cls, spec: EngineSpec) -> DeepSpeedEngine:
        dist, device = setup_distributed()
        deepspeed.init_distributed(dist_backend="nccl" if device.type == "cuda" else "gloo",
                                   auto_mpi_discovery=False)
        # Each rank loads the whole model, then ZeRO partitions it (14B bf16: 28 GB of host RAM per rank
        # for a moment). Partition-on-load (transformers' HfDeepSpeedConfig) would need `accelerate`.
        model = load_model(spec, spec.dtype)
        optimizer = make_optimizer(model, spec)
        engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=ds_config(spec))
        return cls(spec, engine, dist, device)

    def _forward(self, **inputs: torch.Tensor) -> Any:
        return self.ds(**inputs)

    def backward(self, loss: torch.Tensor, *, last_micro_batch: bool) -> None:
        # The loop, not DeepSpeed's micro-step counter, says where a step ends: steps may hold any
        # number of micro-batches (the last one of an epoch is short). Loss scaling is the caller's.
        self.ds.set_gradient_accumulation_boundary(last_micro_batch)
        self.ds.backward(loss, scale_wrt_gas=False)
        if last_micro_batch and self.spec.model.zero_stage == 0:
            # ZeRO-0 with an fp32 client optimizer records no norm; grads are all-reduced by now.
            grads = [p.grad for p in self.module.parameters() if p.grad is not None]
            self._pre_step_norm = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0

    def step(self, lr: float) -> float:
        for group in self.ds.optimizer.param_groups:
            group["lr"] = lr
        self.ds.set_gradient_accumulation_boundary(True)
        self.ds.step()
        norm = self.ds.get_global_grad_norm()
        norm = self._pre_step_norm if norm is None else float(norm)
        self._pre_step_norm = None
        return float("nan") if norm is None else norm

    def iter_weights(self, bucket_mb: int = 512) -> Iterator[tuple[str, torch.Tensor]]:
        if self.spec.model.zero_stage != 3:  # ZeRO 0-2: every rank holds whole parameters
            yield from super().iter_weights(bucket_mb)
            return
        named = self.module.state_dict(keep_vars=True).items()  # params and buffers, tied names included
        for bucket in weight_buckets(named, bucket_mb * 2**20):
            params = list({id(t): t for _, t in bucket if hasattr(t, "ds_id")}.values())
            # Gathered copies are freed when the context exits; a tensor the consumer still holds keeps
            # its own storage alive (DeepSpeed re-points param.data rather than reusing the buffer).
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                for name, t in bucket:
                    yield name, t.data.detach()

    def _save_files(self, tag_dir: Path) -> None:
        self.ds.save_checkpoint(str(tag_dir.parent), tag=tag_dir.name, save_latest=False)

    def _load_files(self, tag_dir: Path) -> None:
        path, _ = self.ds.load_checkpoint(str(tag_dir.parent), tag=tag_dir.name, load_optimizer_states=True,
                                          load_lr_scheduler_states=False)
        if path is None:
            raise RuntimeError(f"DeepSpeed could not load the checkpoint in {tag_dir}")
