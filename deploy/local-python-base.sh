#!/usr/bin/env bash
# Build a local stand-in for the Dockerfile's PYTHON_IMAGE (python:3.11-slim-bookworm)
# from Debian's own packages, for a machine whose container engine cannot pull from
# Docker Hub (ADR 0058, amendment). Debian bookworm's Python is 3.11, as the image's.
# The host's CA bundle is copied in, so pip in the build trusts what the host trusts
# (a TLS-inspecting proxy included). Needs root, debootstrap and a Debian mirror.
#
#   sudo deploy/local-python-base.sh [TAG]        # default TAG: cases-python-base:bookworm
#   docker build --network host --build-arg PYTHON_IMAGE=cases-python-base:bookworm -t cases:local .
set -euo pipefail
tag="${1:-cases-python-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT

debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
tar -C "$root" -c . | docker import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' - "$tag"
echo "built $tag"
