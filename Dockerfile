# Parley's image: `parley serve` by default; the same image runs `parley worker`
# and `parley migrate` (compose.yaml, deploy/helm/parley).

# Stage 1: the web client (web/), built as `make web` builds it.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# Stage 2: the Python package, with the built client where it looks for it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY blobs ./blobs
COPY commands ./commands
COPY events ./events
COPY projections ./projections
COPY read_api ./read_api
COPY ws_edge ./ws_edge
COPY parley ./parley
COPY --from=web /web/dist ./web/dist
# parley.web.WEB_DIST is <the folder holding the parley package>/web/dist: in
# the image that is site-packages/web/dist. Ask the installed package (from /,
# so that /src/parley is not the one imported) and put the client there.
RUN pip install . \
    && dist="$(cd / && python -c 'from parley.web import WEB_DIST; print(WEB_DIST)')" \
    && mkdir -p "$dist" && cp -R web/dist/. "$dist/" && test -f "$dist/index.html" \
    && cd / && rm -rf /src \
    && groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --no-create-home parley \
    && mkdir -p /data/blobs && chown -R parley:parley /data

# A numeric user, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /data
# Uploaded files (PARLEY_BLOB_STORE=filesystem) go to /data/blobs: mount one
# volume there in the server and the worker (compose.yaml does).
ENV PARLEY_HTTP_HOST=0.0.0.0 \
    PARLEY_HTTP_PORT=8000 \
    PARLEY_DATA_DIR=/data
EXPOSE 8000
CMD ["parley", "serve"]
