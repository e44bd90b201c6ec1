"""GRPO loss on hand-made tensors: masking, clipping, KL estimator, advantages, aggregation."""

from __future__ import annotations

import math

import pytest
import torch

from r1ci.training.grpo_loss import aggregate, group_advantages, kl_k3, policy_loss


def test_group_advantages_hand_computed():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_advantages(r, group_size=4)
    std = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]
    assert torch.allclose(adv[:4], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (std + 1e-6))
    assert torch.equal(adv[4:], torch.zeros(4))  # all-equal group: exactly zero advantage
    assert torch.allclose(group_advantages(r, 4, std_normalize=False)[:4], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    with pytest.raises(ValueError):
        group_advantages(r, 3)


def test_all_equal_groups_give_zero_loss_gradient_without_kl():
    logp = torch.randn(4, 6, requires_grad=True)
    adv = group_advantages(torch.tensor([1.0, 1.0, 0.0, 0.0]), 2)
    loss, _ = policy_loss(logp, logp.detach(), None, adv, torch.ones(4, 6), 0.2, 0.0)
    loss.backward()
    assert torch.equal(logp.grad, torch.zeros_like(logp))


def test_masked_tokens_get_exactly_zero_gradient():
    torch.manual_seed(0)
    logp = torch.randn(2, 5, requires_grad=True)
    old = logp.detach() + 0.05 * torch.randn(2, 5)
    ref = logp.detach() - 0.1
    mask = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]])  # e.g. prompt, model, interpreter, model
    loss, _ = policy_loss(logp, old, ref, torch.tensor([1.0, -1.0]), mask, 0.2, 0.001)
    loss.backward()
    assert torch.equal(logp.grad[mask == 0], torch.zeros(int((mask == 0).sum())))
    assert (logp.grad[mask == 1] != 0).all()
    # Changing masked log-probs (e.g. interpreter tokens) changes nothing.
    logp2 = logp.detach().clone()
    logp2[mask == 0] += 5.0
    loss2, _ = policy_loss(logp2, old, ref, torch.tensor([1.0, -1.0]), mask, 0.2, 0.001)
    assert torch.allclose(loss.detach(), loss2)


def test_clipping_hand_computed():
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.1]]))  # ratios 1.5, 0.5, 1.1
    mask = torch.ones(1, 3)
    loss_pos, parts = policy_loss(logp, old, None, torch.tensor([1.0]), mask, clip_eps=0.2, kl_coef=0.0)
    # A > 0: min(r, clip(r)) = [1.2, 0.5, 1.1]
    assert loss_pos.item() == pytest.approx(-(1.2 + 0.5 + 1.1) / 3)
    assert parts["clipped"].tolist() == [[1.0, 0.0, 0.0]]
    loss_neg, parts = policy_loss(logp, old, None, torch.tensor([-1.0]), mask, clip_eps=0.2, kl_coef=0.0)
    # A < 0: min(-r, -clip(r)) = [-1.5, -0.8, -1.1]
    assert loss_neg.item() == pytest.approx((1.5 + 0.8 + 1.1) / 3)
    assert parts["clipped"].tolist() == [[0.0, 1.0, 0.0]]


def test_clipped_tokens_carry_no_gradient():
    old = torch.zeros(1, 2)
    logp = torch.log(torch.tensor([[1.5, 1.0]])).requires_grad_()
    loss, _ = policy_loss(logp, old, None, torch.tensor([1.0]), torch.ones(1, 2), 0.2, 0.0)
    loss.backward()
    assert logp.grad[0, 0] == 0 and logp.grad[0, 1] != 0


def test_kl_k3_values():
    logp = torch.tensor([0.0, -1.0, -2.0])
    ref = torch.tensor([0.0, -1.5, -1.0])
    r = ref - logp
    assert torch.allclose(kl_k3(logp, ref), torch.exp(r) - r - 1)
    assert kl_k3(logp, logp).abs().max() == 0
    assert (kl_k3(logp, ref) >= 0).all()
    # Unbiased: E_pi[k3] = KL(pi||ref) for categorical distributions.
    p = torch.tensor([0.7, 0.2, 0.1])
    q = torch.tensor([0.5, 0.3, 0.2])
    exact = (p * (p / q).log()).sum()
    assert (p * kl_k3(p.log(), q.log())).sum() == pytest.approx(exact.item(), rel=1e-5)


def test_kl_term_is_added_with_its_coefficient():
    logp = torch.full((1, 2), -1.0)
    ref = torch.full((1, 2), -2.0)
    zero_adv = torch.zeros(1)
    loss, _ = policy_loss(logp, logp, ref, zero_adv, torch.ones(1, 2), 0.2, kl_coef=0.5)
    assert loss.item() == pytest.approx(0.5 * (math.exp(-1) + 1 - 1))


def test_aggregation_modes_and_loop_equivalence():
    torch.manual_seed(1)
    v = torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    loop_token = sum(v[i, j] for i in range(3) for j in range(4) if mask[i, j]) / mask.sum()
    assert aggregate(v, mask, "token_mean").item() == pytest.approx(loop_token.item())
    seqs = [v[i][mask[i] == 1] for i in range(2)]  # sequence 3 has no model tokens: excluded
    assert aggregate(v, mask, "seq_mean_token_mean").item() == pytest.approx(
        sum(s.mean() for s in seqs).item() / 2)
    assert aggregate(v, mask, "seq_mean_token_sum").item() == pytest.approx(sum(s.sum() for s in seqs).item() / 2)
    with pytest.raises(ValueError):
        aggregate(v, mask, "nope")
