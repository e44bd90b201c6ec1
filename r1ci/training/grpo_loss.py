"""GRPO math as small pure tensor functions (style.md #6). The caller computes metrics and logs.

Shapes: B sequences (G per prompt, grouped consecutively), T tokens. `mask` is the loss mask: 1 on
model-written tokens, 0 on prompt, interpreter output and padding, so interpreter tokens get no gradient.
"""

from __future__ import annotations

import torch


def group_advantages(rewards: torch.Tensor, group_size: int, std_normalize: bool = True,
                     eps: float = 1e-6) -> torch.Tensor:
    """(B,) rewards -> (B,) advantages: reward minus its group's mean, divided by the group's std.

    A group whose rewards are all equal carries no signal and gets advantage exactly 0 (its std is 0;
    the mean subtraction already zeroes it, and eps keeps the division finite).
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if std_normalize:
        centred = centred / (grouped.std(dim=1, keepdim=True, unbiased=True) + eps)
    return centred.view(-1)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token low-variance KL(pi || ref) estimator k3 = exp(r) - r - 1 with r = ref_logp - logp (>= 0).

    (Schulman, "Approximating KL divergence", http://joschu.net/blog/kl-approx.html)
    """
    r = ref_logp - logp
    return torch.exp(r) - r - 1.0


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str = "token_mean") -> torch.Tensor:
    """Reduce (B, T) per-token values to a scalar over masked tokens.

    token_mean: mean over all model tokens of the batch (long responses weigh more; DAPO/verl default);
    seq_mean_token_mean: mean per sequence, then over sequences (the original GRPO);
    seq_mean_token_sum: sum per sequence, then mean over sequences (Dr. GRPO style, no length bias).
    """
    mask = mask.to(values.dtype)
    if mode == "token_mean":
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    per_seq = (values * mask).sum(dim=1)
    if mode == "seq_mean_token_mean":
        per_seq = per_seq / mask.sum(dim=1).clamp(min=1.0)
    elif mode != "seq_mean_token_sum":
        raise ValueError(f"unknown loss aggregation {mode!r}")
    has_tokens = (mask.sum(dim=1) > 0).to(values.dtype)
    return (per_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor | None,
                advantages: torch.Tensor, mask: torch.Tensor, clip_eps: float, kl_coef: float,
                agg: str = "token_mean") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO-clip surrogate with a KL-to-reference penalty, over masked tokens.

    logp, old_logp, ref_logp: (B, T) log-probs of the taken tokens under the current policy, the policy
    that sampled them, and the frozen reference. advantages: (B,), broadcast over tokens.
    Returns the scalar loss and per-token tensors the caller may reduce into metrics.
    """
    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(1).to(logp.dtype)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    pg = -torch.minimum(unclipped, clipped)
    kl = kl_k3(logp, ref_logp) if ref_logp is not None and kl_coef > 0 else torch.zeros_like(logp)
    per_token = pg + kl_coef * kl
    loss = aggregate(per_token, mask, agg)
    clipped_mask = (unclipped > clipped).to(logp.dtype)  # where the clip took effect
    return loss, {"ratio": ratio.detach(), "kl": kl.detach(), "clipped": clipped_mask.detach(),
                  "pg": pg.detach()}
