#!/usr/bin/env bash
# Build local stand-ins, from Debian bookworm's own packages, for the two images
# compose.yaml starts from Docker Hub, on a machine whose container engine cannot
# pull from it (ADR 0058, amendments):
#
#   python    for the Dockerfile's PYTHON_IMAGE (python:3.11-slim-bookworm); Debian
#             bookworm's Python is 3.11, as the image's. Default tag:
#             cases-python-base:bookworm.
#   postgres  for compose's postgres service (postgres:15-bookworm): Debian's
#             PostgreSQL 15, with an entrypoint that honours the official image's
#             POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA on the first
#             start. Default tag: cases-postgres:15-bookworm.
#
# The host's CA bundle is copied in, so pip in a build trusts what the host trusts
# (a TLS-inspecting proxy included). Needs root, debootstrap and a Debian mirror.
#
#   sudo deploy/local-images.sh python [TAG]
#   sudo deploy/local-images.sh postgres [TAG]
#   docker build --network host --build-arg PYTHON_IMAGE=cases-python-base:bookworm -t cases:local .
#   CASES_POSTGRES_IMAGE=cases-postgres:15-bookworm POSTGRES_PASSWORD=... docker compose up -d
set -euo pipefail
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT

# bootstrap PACKAGES: a minimal bookworm root in $root with PACKAGES, the host's CAs.
bootstrap() {
    debootstrap --variant=minbase --include="$1" bookworm "$root" "$mirror"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
}

# import_root TAG CHANGE...: the root as an image, with Dockerfile instructions applied.
import_root() {
    local tag="$1" change=()
    shift
    for instruction in "$@"; do change+=(--change "$instruction"); done
    tar -C "$root" -c . | docker import "${change[@]}" - "$tag"
    echo "built $tag"
}

python_image() {
    bootstrap python3,python3-venv,python3-pip,python-is-python3,ca-certificates
    import_root "${1:-cases-python-base:bookworm}" \
        'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        'CMD ["python3"]'
}

postgres_image() {
    bootstrap postgresql-15,ca-certificates
    # The package's own cluster is not used: the entrypoint makes one in PGDATA.
    rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15"
    mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
    chroot "$root" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
    chmod 0700 "$root/var/lib/postgresql/data"
    install -m 0755 /dev/stdin "$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# The official image's first start: a cluster in PGDATA owned by POSTGRES_USER
# (password POSTGRES_PASSWORD, required), a database POSTGRES_DB; then the server,
# listening on every address with password authentication from the network.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb -D "$PGDATA" -U "$user" --pwfile="$password_file" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        echo "CREATE DATABASE \"$database\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
ENTRYPOINT
    import_root "${1:-cases-postgres:15-bookworm}" \
        'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data LANG=C.UTF-8' \
        'USER postgres' \
        'EXPOSE 5432' \
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
}

case "${1:-}" in
    python) python_image "${2:-}" ;;
    postgres) postgres_image "${2:-}" ;;
    *) echo "usage: $0 python|postgres [TAG]" >&2; exit 2 ;;
esac
