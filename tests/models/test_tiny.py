"""The tiny model is deterministic and loads through the real-checkpoint code paths (transformers, vLLM)."""

from __future__ import annotations

import hashlib

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from r1ci.models.tiny import build_tiny_model


def _digest(path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


def test_build_is_deterministic_and_cached(tmp_path, tiny_model_path):
    again = build_tiny_model(tmp_path)
    assert _digest(again) == _digest(tiny_model_path)
    assert build_tiny_model(tmp_path) == again  # second call reuses the saved model


def test_tokenizer_is_qwen_style(tiny_model_path):
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>"
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    sample = "```python\nprint(12345 * 678)\n```\nCode Execution Results:\n8369910\n<<<8369910>>>"
    assert tok.decode(tok.encode(sample, add_special_tokens=False)) == sample  # byte-level: lossless


def test_model_files_readable_by_other_users(tiny_model_path):
    assert all(f.stat().st_mode & 0o004 for f in tiny_model_path.iterdir())


def test_vllm_and_transformers_agree_greedily_with_a_stop_string(tiny_model_path, tiny_vllm):
    from vllm import SamplingParams

    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 12 * 34?"}], add_generation_prompt=True,
                                     tokenize=False)
    ids = tok.encode(prompt, add_special_tokens=False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32)
    hf = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False)[0, len(ids):].tolist()

    free = tiny_vllm.generate([{"prompt_token_ids": ids}], SamplingParams(temperature=0, max_tokens=24))
    assert list(free[0].outputs[0].token_ids) == hf

    # A random model never writes "```", so stop on a piece of text it does produce, past a few tokens.
    stop = tok.decode(hf[6:8])
    stopped = tiny_vllm.generate([{"prompt_token_ids": ids}], SamplingParams(
        temperature=0, max_tokens=24, stop=[stop], include_stop_str_in_output=True))[0].outputs[0]
    assert stopped.finish_reason == "stop" and stopped.stop_reason == stop
    assert stopped.text.endswith(stop)
    assert list(stopped.token_ids) == hf[:len(stopped.token_ids)] and len(stopped.token_ids) < len(hf)
