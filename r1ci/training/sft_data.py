"""SFT data: conversations JSONL -> token ids + loss masks -> per-step plans of micro-batches.

Input `<paths.input_dir>/sft.jsonl` (written by stage=synth), one conversation per line:

    {"item_id": "gcd-17", "task": "gcd",
     "messages": [{"role": "system", "content": ...}, {"role": "user", "content": ...},
                  {"role": "assistant", "content": "...```python\\n...\\n```"},
                  {"role": "interpreter", "content": "Code Execution Results:\\n...\\n"},
                  {"role": "assistant", "content": "... <<<42>>>"}]}

Roles: system, user, then assistant and interpreter alternating, ending with assistant
(r1ci.rollout.conversation.validate_messages). Other keys (style, stats) are ignored.

Decisions, each counted in DataStats:
- Tokenisation is `tokenize_messages`: the rollout's exact token layout and mask (1 on assistant tokens
  and the closing end-of-turn token; 0 on the prompt and on interpreter output), as in RL.
- Over-length conversations (> max_prompt_len + max_response_len tokens) are DROPPED, not truncated: a
  cut trajectory loses its final answer and end-of-turn token and would teach the model to stop mid-way.
- Batching: every optimiser step takes `global_batch_size` conversations of a seeded per-epoch shuffle
  (the last step of an epoch takes the rest). Inside a step the conversations are sorted by length,
  dealt round-robin to ranks and cut into micro-batches, so each micro-batch pads to similar lengths
  (length bucketing). The loss is a token-mean over the whole step, so this regrouping changes only the
  padding, never the gradient. Packing was not chosen: without varlen attention, packed sequences would
  attend to each other.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1ci.rollout.conversation import tokenize_messages

SFT_FILE = "sft.jsonl"


@dataclass(frozen=True)
class SFTExample:
    item_id: str
    task: str
    input_ids: tuple[int, ...]
    loss_mask: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_loss_tokens(self) -> int:
        """Tokens that are prediction targets with loss: the first token is never a target."""
        return sum(self.loss_mask[1:])


@dataclass
class DataStats:
    n_conversations: int = 0
    n_kept: int = 0
    n_dropped_too_long: int = 0
    n_tokens: int = 0  # kept conversations only
    n_loss_tokens: int = 0
    max_len: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def read_conversations(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def file_sha(path: Path) -> str:
    """Fingerprint of the data file: a resume on different data must fail, not silently mix."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


def tokenize_conversations(tokenizer: Any, rows: list[dict[str, Any]],
                           max_len: int) -> tuple[list[SFTExample], DataStats]:
    stats = DataStats(n_conversations=len(rows))
    examples = []
    for row in rows:
        ids, mask = tokenize_messages(tokenizer, row["messages"])
        if len(ids) > max_len:
            stats.n_dropped_too_long += 1
            continue
        ex = SFTExample(str(row["item_id"]), str(row["task"]), tuple(ids), tuple(mask))
        examples.append(ex)
        stats.n_kept += 1
        stats.n_tokens += len(ex)
        stats.n_loss_tokens += ex.n_loss_tokens
        stats.max_len = max(stats.max_len, len(ex))
    return examples, stats


# ---- step plans -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MicroPlan:
    indices: tuple[int, ...]  # example indices of one micro-batch on this rank
    dummy: bool = False  # a rank with nothing left in a short step still runs a (loss-free) pass


@dataclass(frozen=True)
class StepPlan:
    epoch: int
    index: int  # step within the epoch
    micro: tuple[MicroPlan, ...]  # this rank's micro-batches
    n_examples: int  # conversations in the step, all ranks
    n_loss_tokens: int  # loss tokens in the step, all ranks: the token-mean's denominator


def steps_per_epoch(n_examples: int, global_batch: int) -> int:
    return math.ceil(n_examples / global_batch)


def plan_epoch(examples: list[SFTExample], *, epoch: int, seed: int, global_batch: int, micro_batch: int,
               rank: int, world_size: int) -> list[StepPlan]:
    """This rank's plan for every step of `epoch`; the same on every rank and every rerun (resume)."""
    order = np.random.default_rng([seed, epoch]).permutation(len(examples)).tolist()
    plans = []
    for index, start in enumerate(range(0, len(order), global_batch)):
        batch = sorted(order[start:start + global_batch], key=lambda i: (-len(examples[i]), i))
        mine = batch[rank::world_size]
        n_micro = math.ceil(math.ceil(len(batch) / world_size) / micro_batch)
        micro = [MicroPlan(tuple(mine[j:j + micro_batch])) for j in range(0, len(mine), micro_batch)]
        micro += [MicroPlan((batch[0],), dummy=True)] * (n_micro - len(micro))  # same pass count on all ranks
        plans.append(StepPlan(epoch, index, tuple(micro), len(batch),
                              sum(examples[i].n_loss_tokens for i in batch)))
    return plans


@dataclass(frozen=True)
class MicroBatch:
    input_ids: torch.Tensor  # [B, T] right-padded
    attention_mask: torch.Tensor  # [B, T] 1 on real tokens
    loss_mask: torch.Tensor  # [B, T] 1 on model-written tokens (0 on prompt, interpreter, padding)


def collate(examples: list[SFTExample], micro: MicroPlan, pad_id: int) -> MicroBatch:
    rows = [examples[i] for i in micro.indices]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    loss = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r.input_ids)
        attn[b, :len(r)] = 1
        if not micro.dummy:
            loss[b, :len(r)] = torch.tensor(r.loss_mask)
    return MicroBatch(ids, attn, loss)
