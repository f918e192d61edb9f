#!/usr/bin/env bash
# Build Tango's offline Python base image from Debian packages (no registry needed).
# Usage: docker/base/build-base.sh [IMAGE_NAME]   (default: tango/python-base:bookworm)
# The image holds python3 plus numpy and Pillow (used by the shipped workflows).
set -euo pipefail
NAME="${1:-tango/python-base:bookworm}"
if docker image inspect "$NAME" >/dev/null 2>&1; then
  echo "base image $NAME already present"; exit 0
fi
DIR="$(mktemp -d /tmp/tango-rootfs.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
debootstrap --variant=minbase \
  --include=python3,python3-numpy,python3-pil,ca-certificates \
  bookworm "$DIR" http://deb.debian.org/debian
# Trim what a runtime never needs.
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/usr/share/doc/* "$DIR"/usr/share/man/*
tar -C "$DIR" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$NAME"
echo "built $NAME"
