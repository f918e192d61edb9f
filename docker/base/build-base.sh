#!/usr/bin/env bash
# Build Tango's offline Python base image from Debian packages (no container registry needed).
# Called by docker/build-images.sh; can be run alone.
#
# Usage: docker/base/build-base.sh [IMAGE_NAME]   (default: tango/python-base:bookworm)
# Env:   DEBIAN_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#
# The image holds python3 plus numpy and Pillow (used by the shipped workflows). It takes about
# a minute and needs root (debootstrap); when the image already exists it does nothing.
set -euo pipefail
NAME="${1:-tango/python-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

die() { echo "build-base: error: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 \
  || die "cannot reach the Docker engine. Start dockerd (as root: 'dockerd &') and check that 'docker info' works."
if docker image inspect "$NAME" >/dev/null 2>&1; then
  echo "base image $NAME already present"; exit 0
fi
command -v debootstrap >/dev/null \
  || die "debootstrap is not installed (apt-get install debootstrap), and $NAME is not present."
[ "$(id -u)" = 0 ] || die "debootstrap needs root to build $NAME; run this script as root."

DIR="$(mktemp -d /tmp/tango-rootfs.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
debootstrap --variant=minbase \
  --include=python3,python3-numpy,python3-pil,ca-certificates \
  bookworm "$DIR" "$MIRROR"
# Trim what a runtime never needs.
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/usr/share/doc/* "$DIR"/usr/share/man/*
tar -C "$DIR" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$NAME"
echo "built $NAME"
