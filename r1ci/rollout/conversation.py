"""The chat-messages form of a trajectory (SFT data) and its tokenisation in the rollout's exact layout.

A conversation is [system, user, assistant, interpreter, assistant, ...]. The assistant and interpreter
messages after the prompt form ONE assistant turn of the chat template, exactly as the rollout loop
builds it: the interpreter text follows the model's closing code fence directly, and only the end of the
last assistant message is closed by the end-of-turn token. Loss mask: 1 on assistant tokens (and that
final end-of-turn token), 0 on the prompt and on interpreter tokens.
"""

from __future__ import annotations

from typing import Any

from r1ci.rollout.trajectory import Trajectory

ROLES = ("system", "user", "assistant", "interpreter")


def trajectory_to_messages(traj: Trajectory, system: str, user: str) -> list[dict[str, str]]:
    """`user` is the whole user message as the rollout rendered it (Style.user_message)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    for seg in traj.segments[1:]:
        messages.append({"role": "assistant" if seg.kind == "model" else "interpreter", "content": seg.text})
    return messages


def validate_messages(messages: list[dict[str, Any]]) -> None:
    roles = [m["role"] for m in messages]
    if roles[:2] != ["system", "user"] or len(roles) < 3 or roles[-1] != "assistant":
        raise ValueError(f"a conversation is system, user, then assistant/interpreter turns ending with "
                         f"assistant; got {roles}")
    if any(r not in ROLES for r in roles) or any(a == b for a, b in zip(roles[2:], roles[3:])):
        raise ValueError(f"assistant and interpreter turns must alternate; got {roles}")


def tokenize_messages(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """(token ids, loss mask) with each message tokenised on its own, as the rollout appends them."""
    validate_messages(messages)
    prompt = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    ids = list(tokenizer.encode(prompt, add_special_tokens=False))
    mask = [0] * len(ids)
    for m in messages[2:]:
        piece = list(tokenizer.encode(m["content"], add_special_tokens=False))
        ids += piece
        mask += [1 if m["role"] == "assistant" else 0] * len(piece)
    ids.append(tokenizer.eos_token_id)  # the model must learn to end its turn
    mask.append(1)
    return ids, mask
