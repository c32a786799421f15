# syntax=docker/dockerfile:1
# The training node: `parzen worker`. One file, two images:
#   CPU:  docker build -f deploy/docker/worker.Dockerfile -t parzen-worker:cpu .
#   CUDA: docker build -f deploy/docker/worker.Dockerfile --build-arg EXTRA=gpu -t parzen-worker:gpu .
# EXTRA=gpu installs tensorflow[and-cuda]: the CUDA and cuDNN libraries come as pip wheels, so
# the base stays python:3.11-slim (the same Python as the server) and the host needs only the
# NVIDIA driver and container toolkit; an official tensorflow/tensorflow:*-gpu base would bring
# a second Python and its own TensorFlow pin.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
# worker: TensorFlow's CPU wheel; gpu: TensorFlow with CUDA (pyproject.toml's extras).
ARG EXTRA=worker
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY service ./service
COPY worker ./worker
COPY cli ./cli
COPY parzen ./parzen
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/parzen \
 && WHEEL="$(ls /dist/parzen-*.whl)" \
 && /opt/parzen/bin/pip install "${WHEEL}[${EXTRA}]"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 parzen \
 && useradd --uid 10001 --gid parzen --home-dir /var/lib/parzen --create-home --shell /usr/sbin/nologin parzen
COPY --from=builder /opt/parzen /opt/parzen
# The server address and token come from PARZEN_URL and PARZEN_TOKEN at run time. Keras keeps
# downloaded datasets under KERAS_HOME (writable by the worker's user); `utility` lets the
# NVIDIA runtime mount nvidia-smi, which `--gpus all` counts GPUs with.
ENV PATH=/opt/parzen/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KERAS_HOME=/var/lib/parzen/keras \
    TF_CPP_MIN_LOG_LEVEL=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /var/lib/parzen
USER 10001:10001
# A worker serves no port: it is alive while its process runs (the orchestrator restarts it),
# and its trials' leases tell the server when it is gone.
HEALTHCHECK NONE
ENTRYPOINT ["parzen", "worker"]
CMD ["--gpus", "all"]
