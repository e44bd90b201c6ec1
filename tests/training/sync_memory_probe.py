"""Peak extra memory of one weight push, measured in a fresh process (run by test_weight_sync.py).

    MALLOC_MMAP_THRESHOLD_=65536 torchrun --nproc_per_node 2 sync_memory_probe.py <cache_dir> <backend> \
        <zero_stage> <bucket_mb> <out_dir>

glibc's mmap threshold is pinned, so every tensor buffer is a mapping of its own and resident memory rises
and falls with the tensors alive. A trainer (model A) pushes into an HFEngine (model B, the same shape),
once streamed (`iter_weights(bucket_mb)`) and once as a full state dict. The resident-set rise over the
moment before the push is sampled each time a tensor reaches the engine, which is when a gathered bucket
is fully alive. Each rank writes `<out_dir>/rank<r>.json` (a file of its own: two ranks printing to one
pipe can interleave their lines). (With one rank ZeRO-3's "gather" is a view of the rank's
own shard and allocates nothing, so the bound only shows with two.)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from r1ci.models.tiny import TinySpec, build_tiny_model
from r1ci.rollout.engines.hf_engine import HFEngine
from r1ci.config import ModelConfig, TrainConfig
from r1ci.training.engine import EngineSpec, build_engine

SHAPE = dict(hidden_size=256, num_hidden_layers=8, intermediate_size=1024)  # ~34 MB in fp32, 1 MB tensors


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sampled(make_pairs: Callable[[], Iterable[tuple[str, torch.Tensor]]], peak: list[int]) -> Iterator:
    base = rss()  # before the source allocates anything
    for pair in make_pairs():
        peak[0] = max(peak[0], rss() - base)
        yield pair


def main(cache_dir: str, backend: str, zero_stage: int, bucket_mb: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    trainer_path = build_tiny_model(cache_dir, TinySpec(**SHAPE, seed=1))
    engine_path = build_tiny_model(cache_dir, TinySpec(**SHAPE, seed=2))
    model = ModelConfig(name="tiny", path=str(trainer_path), dtype="float32", zero_stage=zero_stage,
                        micro_batch_size=1, gradient_checkpointing=False)
    spec = EngineSpec(str(trainer_path), model, TrainConfig(backend=backend, keep_checkpoints=1))
    trainer = build_engine(spec)
    rollout = HFEngine(str(engine_path))
    with torch.no_grad():  # make the engine's weights private and resident (loaded pages may be file-backed)
        for t in rollout.model.state_dict().values():
            t.mul_(1.0)
    expected = trainer.full_state_dict()
    sizes = [t.numel() * t.element_size() for t in expected.values()]
    assert not all(torch.equal(expected[k], v) for k, v in rollout.model.state_dict().items())
    del expected

    streamed, full = [0], [0]
    rollout.update_weights(sampled(lambda: trainer.iter_weights(bucket_mb), streamed))
    got = rollout.model.state_dict()
    equal = all(torch.equal(got[k], v) for k, v in trainer.full_state_dict().items())
    rollout.update_weights(sampled(lambda: trainer.full_state_dict().items(), full))
    row = {"rank": trainer.dist.rank, "streamed_peak": streamed[0], "full_peak": full[0],
           "model_bytes": sum(sizes), "largest_tensor": max(sizes), "bucket_bytes": bucket_mb * 2**20,
           "equal": equal}
    (Path(out_dir) / f"rank{trainer.dist.rank}.json").write_text(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
