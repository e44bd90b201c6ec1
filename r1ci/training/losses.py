"""Pure tensor functions shared by SFT and GRPO: per-token log-probabilities and masked sums.

Shapes: B sequences, T tokens, V vocabulary. The logprob at position t is that of token t+1 given
tokens <= t, so a sequence of T tokens yields T-1 logprobs and the loss mask is shifted the same way
(`shift_mask`). Every loss is a SUM over mask==1 tokens here; the caller divides by the number of loss
tokens of the whole optimiser step (token-mean, paper SFT and trainer.loss_agg=token_mean), so that
micro-batching, padding and the number of ranks never change the gradient.
"""

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


def shift_mask(loss_mask: torch.Tensor) -> torch.Tensor:
    """Mask of the T-1 predicted tokens: position t predicts token t+1, so take mask[:, 1:]."""
    return loss_mask[:, 1:]


def masked_nll_sum(logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of -logprob over mask==1 tokens: masked tokens contribute exactly zero, value and gradient."""
    return -torch.where(mask.bool(), logprobs, torch.zeros_like(logprobs)).sum()


def sequence_logprobs(forward: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """Per-token logprobs [B, T-1] of input_ids[:, 1:] under a causal LM's `forward` (a module or wrapper).

    Position ids come from the attention mask, so left- and right-padded batches both see 0, 1, ...
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return token_logprobs(out.logits[:, :-1], input_ids[:, 1:], temperature)
