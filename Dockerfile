# syntax=docker/dockerfile:1
# kneo: one image for every process (api, worker, beat, flower, admin commands).
#   docker build -t kneo:0.4.2 .
# The build stage makes the same wheel as `python -m build --wheel` in the source tree
# (tests/ops/test_ops_deploy.py builds it from exactly the files copied here).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2,<2"
COPY pyproject.toml README.md celeryconfig.py wsgi.py ./
COPY kneo ./kneo
RUN python -m build --wheel --outdir /dist .

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# pg_dump/pg_restore for `flask --app wsgi backup pg-dump|pg-restore` (major version 15, as compose's PostgreSQL).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 kneo \
    && useradd --system --uid 10001 --gid kneo --home-dir /app --shell /usr/sbin/nologin kneo
WORKDIR /app
COPY --from=build /dist/ /tmp/dist/
# The wheel with the deploy extra (gunicorn, flower, OpenTelemetry); versions are bounded in pyproject.toml.
# hadolint ignore=DL3013
RUN wheel="$(find /tmp/dist -name 'kneo-*.whl')" \
    && pip install "${wheel}[deploy]" \
    && rm -rf /tmp/dist
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
COPY scripts/deployment_smoke.py scripts/deployment_smoke.py
COPY examples/smoke_human_workflow.yaml examples/smoke_human_workflow.yaml
# Writable state: the embedded SQLite database (.kneo/) and the Prometheus multiprocess directory.
RUN mkdir -p /app/.kneo /var/run/kneo-metrics \
    && chown -R kneo:kneo /app/.kneo /var/run/kneo-metrics
USER 10001:10001
ENV KNEO_SERV_STATE_DIR=/app/.kneo \
    KNEO_SERV_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/var/run/kneo-metrics
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
