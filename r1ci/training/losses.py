"""Pure tensor functions shared by SFT and GRPO: masked sums over per-token log-probabilities
(r1ci.models.logprobs).

Shapes: B sequences, T tokens, V vocabulary. The logprob at position t is that of token t+1 given
tokens <= t, so a sequence of T tokens yields T-1 logprobs and the loss mask is shifted the same way
(`shift_mask`). Every loss is a SUM over mask==1 tokens here; the caller divides by the number of loss
tokens of the whole optimiser step (token-mean, paper SFT and trainer.loss_agg=token_mean), so that
micro-batching, padding and the number of ranks never change the gradient.
"""

from __future__ import annotations

import torch


def shift_mask(loss_mask: torch.Tensor) -> torch.Tensor:
    """Mask of the T-1 predicted tokens: position t predicts token t+1, so take mask[:, 1:]."""
    return loss_mask[:, 1:]


def masked_nll_sum(logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of -logprob over mask==1 tokens: masked tokens contribute exactly zero, value and gradient."""
    return -torch.where(mask.bool(), logprobs, torch.zeros_like(logprobs)).sum()
