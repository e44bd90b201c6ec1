"""The SFT loss sees model-written tokens only; batching regroups data without changing the loss."""

from __future__ import annotations

import torch
from conftest import make_conversations

from r1ci.models.logprobs import token_logprobs
from r1ci.training.losses import masked_nll_sum, shift_mask
from r1ci.training.sft_data import MicroPlan, collate, plan_epoch, tokenize_conversations


def test_loss_mask_token_by_token_on_a_multi_turn_example(tiny_tokenizer):
    row = make_conversations(3)[2]  # failing code call, fix, answer: 3 assistant + 2 interpreter turns
    (ex,), stats = tokenize_conversations(tiny_tokenizer, [row], max_len=10_000)
    assert stats.n_kept == 1
    mb = collate([ex], MicroPlan((0,)), pad_id=tiny_tokenizer.pad_token_id)
    targets, mask = mb.input_ids[0, 1:], shift_mask(mb.loss_mask)[0]
    trained = tiny_tokenizer.decode(targets[mask == 1])
    ignored = tiny_tokenizer.decode(targets[mask == 0])
    assistant = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
    interpreter = [m["content"] for m in row["messages"] if m["role"] == "interpreter"]
    assert trained == "".join(assistant) + "<|im_end|>"  # every model token, and the end of turn
    for text in interpreter + [row["messages"][1]["content"], row["messages"][0]["content"]]:
        assert text in ignored and text not in trained  # prompt and interpreter output carry no loss
    # position by position: a loss token is inside an assistant message's token span
    prompt = tiny_tokenizer.apply_chat_template(row["messages"][:2], add_generation_prompt=True, tokenize=False)
    prompt_len = pos = len(tiny_tokenizer.encode(prompt, add_special_tokens=False))
    spans = []
    for m in row["messages"][2:]:
        n = len(tiny_tokenizer.encode(m["content"], add_special_tokens=False))
        spans.append((m["role"], pos, pos + n))
        pos += n
    for role, a, b in spans:
        assert set(mb.loss_mask[0, a:b].tolist()) == {1 if role == "assistant" else 0}
    assert mb.loss_mask[0, :prompt_len].sum() == 0 and mb.loss_mask[0, pos] == 1  # final <|im_end|>


def test_masked_tokens_contribute_no_value_and_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 11, requires_grad=True)
    targets = torch.randint(0, 11, (2, 7))
    mask = torch.tensor([[0, 0, 1, 1, 0, 1, 1], [1, 0, 0, 0, 1, 1, 0]])
    loss = masked_nll_sum(token_logprobs(logits, targets), mask)
    loss.backward()
    assert torch.all(logits.grad[mask == 0] == 0) and torch.all(logits.grad[mask == 1].abs().sum(-1) > 0)
    # changing the logits (or targets) at masked positions leaves the loss exactly unchanged
    other_logits, other_targets = logits.detach().clone(), targets.clone()
    other_logits[mask == 0] = torch.randn_like(other_logits[mask == 0]) * 10
    other_targets[mask == 0] = (other_targets[mask == 0] + 3) % 11
    assert masked_nll_sum(token_logprobs(other_logits, other_targets), mask) == loss.detach()
    manual = -sum(torch.log_softmax(logits[b, t], -1)[targets[b, t]] for b in range(2) for t in range(7)
                  if mask[b, t])
    assert torch.allclose(loss, manual)


def test_loss_equals_transformers_cross_entropy_with_ignore_index(tiny_tokenizer, tiny_model_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32)
    examples, _ = tokenize_conversations(tiny_tokenizer, make_conversations(4), max_len=10_000)
    mb = collate(examples, MicroPlan((0, 1, 2, 3)), pad_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=mb.input_ids, attention_mask=mb.attention_mask).logits
        mask = shift_mask(mb.loss_mask)
        ours = masked_nll_sum(token_logprobs(logits[:, :-1], mb.input_ids[:, 1:]), mask) / mask.sum()
        labels = mb.input_ids.masked_fill(mb.loss_mask == 0, -100)
        theirs = model(input_ids=mb.input_ids, attention_mask=mb.attention_mask, labels=labels).loss
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_over_long_conversations_are_dropped_and_counted(tiny_tokenizer):
    rows = make_conversations(6)
    lengths = [len(e) for e in tokenize_conversations(tiny_tokenizer, rows, 10_000)[0]]
    limit = sorted(lengths)[3]
    kept, stats = tokenize_conversations(tiny_tokenizer, rows, max_len=limit)
    assert stats.n_dropped_too_long == sum(n > limit for n in lengths) > 0
    assert stats.n_kept == len(kept) == 6 - stats.n_dropped_too_long and all(len(e) <= limit for e in kept)


def test_step_plans_cover_each_example_once_per_epoch_on_every_rank_layout(tiny_tokenizer):
    examples, _ = tokenize_conversations(tiny_tokenizer, make_conversations(11), 10_000)
    kw = {"epoch": 1, "seed": 3, "global_batch": 4, "micro_batch": 1}
    for world in (1, 2, 3):
        plans = [plan_epoch(examples, rank=r, world_size=world, **kw) for r in range(world)]
        assert len({len(p) for p in plans}) == 1 and len(plans[0]) == 3  # 4 + 4 + 3
        seen = []
        for step in range(3):
            micros = [p[step].micro for p in plans]
            assert len({len(m) for m in micros}) == 1  # the same number of passes on every rank
            step_ids = [i for m in micros for mp in m if not mp.dummy for i in mp.indices]
            assert plans[0][step].n_loss_tokens == sum(examples[i].n_loss_tokens for i in step_ids)
            seen += step_ids
        assert sorted(seen) == list(range(11))
    assert plan_epoch(examples, rank=0, world_size=1, **kw) == plan_epoch(examples, rank=0, world_size=1, **kw)
    assert plan_epoch(examples, rank=0, world_size=1, **kw) != plan_epoch(examples, rank=0, world_size=1,
                                                                          **{**kw, "epoch": 2})
