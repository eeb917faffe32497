# syntax=docker/dockerfile:1
# The cases image: the locked runtime dependencies (requirements/runtime.txt, with
# hashes) and the project's wheel, run as an unprivileged user. ADR 0058.
#   docker build -t cases:$(python3 -c 'import sys; sys.path.insert(0, "src"); import cases; print(cases.__version__)') .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel of this checkout (our code only; no dependency is resolved here)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /dist .

# --- runtime: a virtual environment of the locked dependencies, then the wheel
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/cases PATH=/opt/cases/bin:$PATH \
    CASES_DATA_DIR=/var/lib/cases \
    CASES_AUDIT_LOG_KEY_FILE=/var/lib/cases/keys/audit-log.key
RUN groupadd --system --gid 10001 cases \
    && useradd --system --uid 10001 --gid cases --home-dir /var/lib/cases --shell /usr/sbin/nologin cases \
    && mkdir -p /var/lib/cases/keys \
    && chown -R cases:cases /var/lib/cases \
    && chmod 0700 /var/lib/cases/keys
COPY requirements/runtime.txt /tmp/runtime.txt
RUN python -m venv /opt/cases \
    && /opt/cases/bin/pip install --require-hashes --no-deps -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt
COPY --from=build /dist/ /tmp/dist/
RUN /opt/cases/bin/pip install --no-deps /tmp/dist/*.whl \
    && /opt/cases/bin/pip check \
    && rm -r /tmp/dist
USER 10001:10001
WORKDIR /var/lib/cases
EXPOSE 8000
ENTRYPOINT ["cases"]
# One worker: the default store is the embedded SQLite, which serves from one process;
# on PostgreSQL, pass `serve --workers N` (compose.yaml does).
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
