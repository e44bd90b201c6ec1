"""Training: one engine abstraction (engine.py: DeepSpeed ZeRO or plain torch) under SFT (sft.py) and GRPO.

Modules: schedule (LR as a pure function), losses (token logprobs, masked sums), checkpoint (layout,
RNG, `latest` pointer), sft_data (conversations -> step plans), metrics (tokens/s, FLOPs, MFU).
Nothing is imported here, so that pure-function users never pay for torch/DeepSpeed start-up.
"""
