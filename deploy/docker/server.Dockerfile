# syntax=docker/dockerfile:1
# The API server: `parzen server` / `parzen migrate`. No TensorFlow, no compilers.
# Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t parzen-server .

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY service ./service
COPY worker ./worker
COPY cli ./cli
COPY parzen ./parzen
# A wheel of the project (migrations included as data files), then a virtual environment with
# only that wheel and its runtime dependencies: the source tree and the build backend stay here.
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/parzen \
 && /opt/parzen/bin/pip install /dist/parzen-*.whl

FROM python:3.11-slim
# A fixed numeric id, so that Kubernetes' runAsNonRoot can check it.
RUN groupadd --gid 10001 parzen \
 && useradd --uid 10001 --gid parzen --home-dir /var/lib/parzen --create-home --shell /usr/sbin/nologin parzen
COPY --from=builder /opt/parzen /opt/parzen
ENV PATH=/opt/parzen/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PARZEN_HOST=0.0.0.0 \
    PARZEN_PORT=8000 \
    PARZEN_ARTIFACT_DIR=/var/lib/parzen/artifacts
WORKDIR /var/lib/parzen
USER 10001:10001
EXPOSE 8000
# Alive, not ready: orchestrators probe /readyz themselves (docker-compose.yml, Kubernetes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PARZEN_PORT', '8000')}/healthz\", timeout=4)"]
ENTRYPOINT ["parzen"]
CMD ["server"]
