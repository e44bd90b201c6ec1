#!/usr/bin/env bash
# One-GPU acceptance check (scripts/gpu_check.py): SFT steps, GRPO steps, the streamed weight gather and the
# sandbox pool at real widths on one GPU; the vLLM life cycle where vLLM is installed. JSON to --out.
#   bash scripts/gpu_check.sh [--out gpu_check.json]     # on a GPU machine
#   bash scripts/gpu_check.sh --dry-run                  # on CPU, the tiny model (what the test suite runs)
# Uses the project's .venv when there is one, else the python on PATH (a GPU machine without the venv needs
# torch, transformers, deepspeed, hydra-core and omegaconf there).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
exec "$python" "$here/scripts/gpu_check.py" "$@"
