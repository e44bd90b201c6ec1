"""One multi-turn trajectory, built from token ids: tokens and loss mask are appended together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SegmentKind = Literal["prompt", "model", "interpreter"]


@dataclass
class Segment:
    kind: SegmentKind
    start: int  # index of its first token in Trajectory.token_ids
    token_ids: list[int]
    text: str  # decode(token_ids); for interpreter segments also exactly what the model was shown
    finish_reason: str | None = None  # model segments: "stop" | "length"


@dataclass
class Trajectory:
    """Prompt ids, then alternating model and interpreter segments.

    `token_ids`, `loss_mask` and `logprobs` cover the whole sequence (prompt included): the mask is 1 on
    model-written tokens only; `logprobs` are the sampling engine's (0.0 where the model did not sample).
    """

    item_id: str
    task: str
    style: str = "interpreter"
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    exec_results: list[Any] = field(default_factory=list)  # r1ci.sandbox.ExecResult per code call
    final_answer: str | None = None
    finish: str = ""  # answered | no_answer | max_code_calls | max_turns | max_tokens | infra_error
    reward: Any = None  # r1ci.rollout.reward.RewardBreakdown once scored
    infra_failed: bool = False  # the sandbox failed: never the model's fault, never scored 0

    def add_prompt(self, ids: list[int], text: str) -> None:
        self._append("prompt", ids, [0] * len(ids), [0.0] * len(ids), text)

    def add_model(self, ids: list[int], logprobs: list[float], text: str, finish_reason: str) -> None:
        assert len(logprobs) == len(ids), "one logprob per generated token"
        self._append("model", ids, [1] * len(ids), list(logprobs), text, finish_reason)

    def extend_model(self, ids: list[int], logprobs: list[float], text: str, finish_reason: str) -> None:
        """Continue the last (model) segment with more generated tokens; `text` decodes the whole segment."""
        seg = self.segments[-1]
        assert seg.kind == "model" and len(logprobs) == len(ids), "extend the last model segment, one logprob each"
        seg.token_ids += ids
        seg.text, seg.finish_reason = text, finish_reason
        self.token_ids += ids
        self.loss_mask += [1] * len(ids)
        self.logprobs += list(logprobs)

    def add_interpreter(self, ids: list[int], text: str) -> None:
        self._append("interpreter", ids, [0] * len(ids), [0.0] * len(ids), text)

    def _append(self, kind: SegmentKind, ids: list[int], mask: list[int], logprobs: list[float], text: str,
                finish_reason: str | None = None) -> None:
        self.segments.append(Segment(kind, len(self.token_ids), list(ids), text, finish_reason))
        self.token_ids += ids
        self.loss_mask += mask
        self.logprobs += logprobs

    @property
    def prompt_len(self) -> int:
        return len(self.segments[0].token_ids) if self.segments and self.segments[0].kind == "prompt" else 0

    @property
    def response_len(self) -> int:
        return len(self.token_ids) - self.prompt_len

    @property
    def response_mask(self) -> list[int]:
        """1 on every token after the prompt, interpreter output included: the loss mask of the paper's
        (v1) unmasked ablation (rollout.mask_interpreter=false)."""
        return [0] * self.prompt_len + [1] * self.response_len

    @property
    def model_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.kind == "model"]

    @property
    def turns(self) -> int:
        return len(self.model_segments)

    @property
    def code_calls(self) -> int:
        return len(self.exec_results)

    @property
    def model_text(self) -> str:
        return "".join(s.text for s in self.model_segments)

    @property
    def response_text(self) -> str:
        return "".join(s.text for s in self.segments if s.kind != "prompt")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for inspection (eval JSONL) and SFT/RL datasets."""
        from dataclasses import asdict

        return {
            "item_id": self.item_id, "task": self.task, "style": self.style, "finish": self.finish,
            "final_answer": self.final_answer, "infra_failed": self.infra_failed,
            "turns": self.turns, "code_calls": self.code_calls,
            "reward": asdict(self.reward) if self.reward is not None else None,
            "segments": [{"kind": s.kind, "text": s.text, "n_tokens": len(s.token_ids)} for s in self.segments],
            "exec_status": [r.status for r in self.exec_results],
            "token_ids": self.token_ids, "loss_mask": self.loss_mask,
        }
