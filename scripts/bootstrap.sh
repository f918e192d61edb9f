#!/usr/bin/env bash
# Make this machine ready to run Tango: Debian packages (Docker engine, debootstrap, Chromium
# for the console tests), a running dockerd, the project virtual environment .venv with the
# Python package and its dependencies, and the runtime images built offline. Idempotent: a
# second run only checks.
# Used by scripts/standalone.sh, scripts/test.sh and .ci/run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "bootstrap: $*" >&2; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)  # workflow data (blob-pipeline)
if [ "${TANGO_BROWSER_TESTS:-1}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  ($SUDO dockerd >/var/log/tango-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/tango-dockerd.log"; exit 1; }
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi

# The project's virtual environment: tango and its dependencies live in .venv, never in the
# machine's Python, so each checkout runs its own code (.venv/bin/tango, or
# `source .venv/bin/activate`). It sees the machine's site-packages, so large dependencies
# already installed there (torch) are reused rather than downloaded again.
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating the project virtual environment in $VENV"
  if ! python3 -m venv --system-site-packages "$VENV" 2>/dev/null; then
    rm -rf "$VENV"  # Debian ships venv's pip bootstrap separately
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv >/dev/null
    python3 -m venv --system-site-packages "$VENV"
  fi
fi
stamp="$VENV/.tango-installed-$(sha1sum pyproject.toml | cut -c1-12)"
# (asked from / so that the answer is the installed package, not this folder's source)
installed="$(cd / && "$VENV/bin/python" -c 'import cli.main, os; print(os.path.dirname(os.path.dirname(cli.main.__file__)))' 2>/dev/null || true)"
if [ ! -f "$stamp" ] || [ "$installed" != "$ROOT" ]; then
  log "installing the tango package and its dependencies into $VENV"
  # torch is pinned: its CPU build lies on this kind of machine; anything newer pulls CUDA.
  "$VENV/bin/python" -m pip install -q -e ".[test,vlm]" 2>&1 | grep -v -E "^(WARNING|DEPRECATION|\[notice\])" >&2 || true
  "$VENV/bin/python" -c "import controller, invoker, cli, flask, sqlalchemy, docker, apscheduler, waitress, pytest"
  rm -f "$VENV"/.tango-installed-* .tango-installed-*; touch "$stamp"
  log "tango is installed in $VENV: run $VENV/bin/tango, or 'source .venv/bin/activate' first"
fi

# The action runtimes every platform needs; the VLM image (large) is built on demand:
# docker/build-images.sh vlm
bash docker/build-images.sh python dockerskeleton >&2
