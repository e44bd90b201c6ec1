"""Throughput accounting for the log line: tokens/s, achieved FLOP/s and MFU (nanoGPT 316-327).

FLOPs per token of a forward+backward pass: 6 N (N parameters) + 12 L H T for attention (L layers,
hidden size H, sequence length T), PaLM (arXiv 2204.02311) appendix B. Counted on padded tokens,
since the hardware computes them too.
"""

from __future__ import annotations

import torch

# Dense bf16 peak per device, TFLOP/s (vendor data sheets, no sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def train_flops(n_params: int, n_layers: int, hidden: int, batch: int, seq_len: int) -> float:
    """FLOPs of one forward+backward over a [batch, seq_len] micro-batch."""
    return batch * seq_len * (6.0 * n_params + 12.0 * n_layers * hidden * seq_len)


def peak_flops(device: torch.device, dtype: str) -> float | None:
    """Peak FLOP/s of one device for MFU; None where no honest number exists (CPU, unknown GPU, fp32)."""
    if device.type != "cuda" or dtype not in ("bfloat16", "float16"):
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None
