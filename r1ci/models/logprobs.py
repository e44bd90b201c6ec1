"""What a causal LM assigns to given tokens: per-token log-probabilities. The trainer's losses, the hf
engine's `score` and the frozen reference all read them here, so they agree to the last bit."""

from __future__ import annotations

from typing import Any

import torch


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(targets) under softmax(logits / temperature), in float32. [B, T, V], [B, T] -> [B, T].

    Row by row (TRL's selective_log_softmax idea) so that only one [T, V] float32 copy of the logits
    exists at a time: a [2, 8k, 152k] batch would be ~10 GB at once.
    """
    rows = []
    for row_logits, row_targets in zip(logits, targets):
        row = row_logits.float()
        if temperature != 1.0:
            row = row / temperature
        picked = row.gather(-1, row_targets.unsqueeze(-1)).squeeze(-1)
        rows.append(picked - torch.logsumexp(row, dim=-1))
    return torch.stack(rows)


def sequence_logprobs(forward: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """Per-token logprobs [B, T-1] of input_ids[:, 1:] under a causal LM's `forward` (a module or wrapper).

    Position ids come from the attention mask, so left- and right-padded batches both see 0, 1, ...
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return token_logprobs(out.logits[:, :-1], input_ids[:, 1:], temperature)
