#!/usr/bin/env bash
# Build Tango's runtime images: the offline base image, then every runtime image.
#
# Usage: docker/build-images.sh [FOLDER...]
#   FOLDER  names under docker/ to build (default: every folder with an `image-name` file).
#
# Adding an image (the hook other runtimes use): create docker/<folder>/ with
#   Dockerfile   - declares `ARG BASE` if it builds on the Python base image;
#   image-name   - one line, the image tag, e.g. tango/action-python-v3.11:latest;
#   context      - optional, one line, the build context relative to the repository root
#                  (default: the folder itself). Keep it small: it is sent on every build;
#   build-args   - optional, KEY=VALUE lines passed as --build-arg;
#   prepare      - optional executable run first (e.g. to assemble a generated build context).
# `python` is built first because other runtime images may build FROM it; the rest follow in
# alphabetical order. Rebuilding when nothing changed takes about a second per image (cache).
#
# Environment:
#   TANGO_BASE_IMAGE  base for the runtime images (default tango/python-base:bookworm, built
#                     offline from Debian packages by docker/base/build-base.sh when missing).
#                     Any other value, e.g. python:3.11-slim, is used as is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER_DIR="$ROOT/docker"
DEFAULT_BASE="tango/python-base:bookworm"
BASE="${TANGO_BASE_IMAGE:-$DEFAULT_BASE}"

die() { echo "build-images: error: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 \
  || die "cannot reach the Docker engine. Start dockerd (as root: 'dockerd &') and check that 'docker info' works."
# Debian's docker.io ships no buildx plugin; use the classic builder quietly then.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

if [ "$BASE" = "$DEFAULT_BASE" ]; then
  "$DOCKER_DIR/base/build-base.sh" "$BASE"
fi

image_folders() {
  if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; return; fi
  [ -f "$DOCKER_DIR/python/image-name" ] && echo python
  for f in "$DOCKER_DIR"/*/image-name; do
    [ -f "$f" ] || continue
    name="$(basename "$(dirname "$f")")"
    [ "$name" = python ] || echo "$name"
  done
}

build_folder() {
  local folder="$DOCKER_DIR/$1"
  [ -f "$folder/Dockerfile" ] || die "docker/$1 has no Dockerfile"
  [ -f "$folder/image-name" ] || die "docker/$1 has no image-name file (one line: the image tag)"
  if [ -x "$folder/prepare" ]; then
    "$folder/prepare" || die "docker/$1/prepare failed"
  fi
  local image context args=()
  image="$(head -n1 "$folder/image-name")"
  context="$folder"
  [ -f "$folder/context" ] && context="$ROOT/$(head -n1 "$folder/context")"
  [ -d "$context" ] || die "docker/$1/context names $context, which is not a folder"
  grep -q '^ARG BASE' "$folder/Dockerfile" && args+=(--build-arg "BASE=$BASE")
  if [ -f "$folder/build-args" ]; then
    while IFS= read -r line; do
      [ -n "$line" ] && [ "${line:0:1}" != "#" ] && args+=(--build-arg "$line")
    done < "$folder/build-args"
  fi
  local start=$SECONDS log
  log="$(mktemp)"
  # The builder's chatter (legacy-builder notice) is shown only when the build fails.
  if ! docker build -q "${args[@]}" -f "$folder/Dockerfile" -t "$image" "$context" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "building $image from docker/$1 failed (output above)"
  fi
  rm -f "$log"
  echo "built $image ($((SECONDS - start))s)"
}

for name in $(image_folders "$@"); do
  build_folder "$name"
done
