# Parley's HTTP server. The image runs `parley serve`; compose.yaml runs
# `parley migrate` first and points PARLEY_DATABASE_URL / PARLEY_NATS_URL at
# its PostgreSQL and NATS.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY blobs ./blobs
COPY commands ./commands
COPY events ./events
COPY projections ./projections
COPY read_api ./read_api
COPY ws_edge ./ws_edge
COPY parley ./parley
RUN pip install . && useradd --system --no-create-home parley \
    && mkdir -p /data/blobs && chown -R parley /data

USER parley
# Uploaded files (PARLEY_BLOB_STORE=filesystem) go to /data/blobs: mount one
# volume there in the server and the worker (compose.yaml does).
ENV PARLEY_HTTP_HOST=0.0.0.0 \
    PARLEY_HTTP_PORT=8000 \
    PARLEY_DATA_DIR=/data
EXPOSE 8000
CMD ["parley", "serve"]
