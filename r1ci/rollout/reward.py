"""The paper's reward, one function (paper.md, RL): correctness, format, length.

total = reward_correct * score  +  (+reward_format if every model segment is well formed else -reward_format)
        - (reward_long_penalty if turns > long_turns)
"""

from __future__ import annotations

from dataclasses import dataclass

from r1ci.config import RewardConfig
from r1ci.rollout.codeblocks import has_unterminated_block, trailing_code_block
from r1ci.rollout.trajectory import Trajectory
from r1ci.tasks import TaskItem, extract_answer, get_task


@dataclass
class RewardBreakdown:
    score: float  # the task's verifier, in [0, 1]
    correct: bool
    well_formed: bool
    too_long: bool
    total: float


def segment_well_formed(text: str, is_last: bool) -> bool:
    """A non-final segment must end in a closed code block; the final one must answer in <<<>>>, leave no
    code block open and not end in code (a trajectory cut off right after a code call is unfinished)."""
    if is_last:
        return (extract_answer(text) is not None and not has_unterminated_block(text)
                and trailing_code_block(text) is None)
    return trailing_code_block(text) is not None


def compute_reward(trajectory_or_text: Trajectory | str, item: TaskItem,
                   weights: RewardConfig = RewardConfig()) -> RewardBreakdown:
    """Score a trajectory (or a single-segment text, e.g. an API model's whole reply)."""
    if isinstance(trajectory_or_text, Trajectory):
        texts = [s.text for s in trajectory_or_text.model_segments]
        answer = trajectory_or_text.final_answer
    else:
        texts = [trajectory_or_text]
        answer = extract_answer(trajectory_or_text)
    score = get_task(item.task).score(answer, item)
    well_formed = bool(texts) and all(segment_well_formed(t, i == len(texts) - 1) for i, t in enumerate(texts))
    too_long = len(texts) > weights.long_turns
    total = (weights.correct * score + (weights.format if well_formed else -weights.format)
             - (weights.long_penalty if too_long else 0.0))
    return RewardBreakdown(score=score, correct=score >= 1.0, well_formed=well_formed, too_long=too_long,
                           total=total)


def score_trajectory(traj: Trajectory, item: TaskItem, weights: RewardConfig) -> RewardBreakdown | None:
    """The one infra policy (eval, synthesis, p estimate, GRPO): a trajectory the sandbox failed is never
    the model's fault, so it stays unscored (None, `traj.reward` unset) and leaves every average; any
    other gets its reward attached."""
    if traj.infra_failed:
        return None
    traj.reward = compute_reward(traj, item, weights)
    return traj.reward
