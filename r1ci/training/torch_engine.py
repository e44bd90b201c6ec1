"""Plain-torch backend of TrainEngine, for one process where DeepSpeed cannot be installed.

Same API and checkpoint layout as the DeepSpeed engine; also the reference the DeepSpeed engine is
tested against (same data, same schedule -> the same weights up to float noise).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch

from r1ci.training.engine import EngineSpec, TrainEngine, load_model, make_optimizer, setup_distributed


class TorchEngine(TrainEngine):
    def __init__(self, spec: EngineSpec, module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 dist: Any, device: torch.device):
        super().__init__(spec, module, dist, device)
        self.optimizer = optimizer

    @classmethod
    def create(cls, spec: EngineSpec) -> TorchEngine:
        dist, device = setup_distributed()
        if dist.world_size > 1:
            raise RuntimeError("backend=torch runs one process; use sft.backend / grpo.backend=deepspeed for more")
        # Master weights stay fp32; bf16 only as autocast on GPU (no fp32 copy kept by an optimizer here).
        model = load_model(spec, "float32").to(device)
        return cls(spec, model, make_optimizer(model, spec), dist, device)

    def _forward(self, **inputs: torch.Tensor) -> Any:
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16)
                    if self.spec.dtype == "bfloat16" and self.device.type == "cuda" else contextlib.nullcontext())
        with autocast:
            return self.module(**inputs)

    def backward(self, loss: torch.Tensor, *, last_micro_batch: bool) -> None:
        loss.backward()

    def step(self, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        clip = self.spec.train.grad_clip if self.spec.train.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def _save_files(self, tag_dir: Path) -> None:
        torch.save(self.module.state_dict(), tag_dir / "model.pt")
        torch.save(self.optimizer.state_dict(), tag_dir / "optimizer.pt")

    def _load_files(self, tag_dir: Path) -> None:
        self.module.load_state_dict(torch.load(tag_dir / "model.pt", map_location=self.device))
        self.optimizer.load_state_dict(torch.load(tag_dir / "optimizer.pt", map_location=self.device))
