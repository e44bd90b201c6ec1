"""An offline, deterministic tiny Qwen2 model + byte-level BPE tokenizer for CPU tests and the demo.

It is saved with `save_pretrained`, so it loads through exactly the code path of a real checkpoint
(`AutoTokenizer`, `AutoModelForCausalLM`, `vllm.LLM`). Shape notes (stack-notes.md): vLLM's CPU
attention needs head_dim in {32, 64, 80, ...}. Embeddings are untied unless model.tie_word_embeddings=true
(as Qwen2.5-3B ties them; tests/training/test_weight_sync.py keeps a tied head in sync across pushes).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2.5's template, minus its default system prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}"
)
# BPE merges are learned from this fixed text, so the vocabulary is the same on every machine. It
# mixes the interaction format, Python and arithmetic so common pieces become single tokens.
_CORPUS = [
    "```python\nprint(", ")\n```\n", "Code Execution Results:\n", "<<<", ">>>", "The answer is ",
    "def solve():\n    return ", "import math\nimport itertools\nfrom collections import Counter\n",
    "for i in range(n):\n    ", "if x == y:\n    ", "result = ", "numbers = [", "sorted(", "len(",
    "Let me compute this with code.", "Let me check the result.", "Therefore the final answer is ",
    "Question: ", "Answer: ", "You are a helpful assistant.", "system", "user", "assistant",
    "Think step by step; you may write Python code in ```python blocks, which will be run for you.",
    "Give your final answer wrapped in triple angle brackets, like <<<answer>>>.",
    "What is the sum of the numbers? Compute the product. Sort the words alphabetically.",
    "True False Yes No valid invalid (A) (B) (C) (D) (E)",
    " ".join(str(i) for i in range(200)), "0123456789 + - * / = ( ) [ ] { } , . : ;",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]


@dataclass(frozen=True)
class TinySpec:
    vocab_size: int = 1024
    hidden_size: int = 128
    num_attention_heads: int = 4  # head_dim 32: the smallest vLLM-CPU supports
    num_key_value_heads: int = 2
    num_hidden_layers: int = 4
    intermediate_size: int = 256
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    seed: int = 0

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def build_tokenizer(vocab_size: int):
    """Byte-level BPE trained on the fixed corpus, wrapped as a Qwen-style fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"], chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
    )


def build_tiny_model(out_dir: str | os.PathLike, spec: TinySpec = TinySpec()) -> Path:
    """Build (once) and save the tiny model + tokenizer under `out_dir/tiny-<digest>`; return that path."""
    path = Path(out_dir) / f"tiny-{spec.digest()}"
    if (path / "config.json").exists() and (path / "tokenizer.json").exists():
        return path
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer(spec.vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads, max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings, torch_dtype="float32",
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for f in tmp.iterdir():  # save_pretrained writes 0600; sandbox/SLURM users must read it (stack-notes)
        f.chmod(0o644)
    tmp.chmod(0o755)
    try:
        tmp.rename(path)  # atomic: concurrent builders never see a half-written model
    except OSError:
        if not (path / "config.json").exists():
            raise
    return path


def resolve_model_path(model_cfg, cache_dir: str) -> str:
    """`model.path`, building the tiny model first when it is "tiny"."""
    if model_cfg.path == "tiny":
        return str(build_tiny_model(cache_dir, TinySpec(tie_word_embeddings=model_cfg.tie_word_embeddings)))
    return str(model_cfg.path)
