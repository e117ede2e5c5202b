# syntax=docker/dockerfile:1.7
#
# MiInventario: one image recipe, two runtime targets.
#   docker build --target api    -t miinventario-api .
#   docker build --target worker -t miinventario-worker .
# The default target (last stage) is `api`.
#
# Containers always get DATABASE_URL, so the embedded PostgreSQL of `npm start`
# is never started here; the app only runs its migrations against that server.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV SCARF_ANALYTICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------
# deps: install from the lockfile. Only the manifests are copied so this layer
# stays cached until a package.json or package-lock.json changes.
# Every workspace listed in the root package.json must have its package.json
# copied here, or `npm ci` refuses the lockfile.
FROM base AS deps
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/
COPY packages/api-client/package.json packages/api-client/
COPY bench/package.json bench/
RUN --mount=type=cache,target=/root/.npm \
    npm ci

# ---------------------------------------------------------------------------
# build: compile the API, then drop dev dependencies and collect exactly what
# the runtime needs into /out.
FROM deps AS build
COPY . .
RUN npm run build -w @miinventario/api
RUN npm prune --omit=dev
RUN set -eux; \
    mkdir -p /out; \
    cp -a package.json package-lock.json node_modules /out/; \
    for ws in apps/api packages/api-client bench; do \
      mkdir -p "/out/$ws"; \
      cp -a "$ws/package.json" "/out/$ws/"; \
      if [ -d "$ws/node_modules" ]; then cp -a "$ws/node_modules" "/out/$ws/"; fi; \
    done; \
    cp -a apps/api/dist /out/apps/api/dist; \
    cp -a apps/api/data /out/apps/api/data; \
    chmod a+x /out/node_modules/@ffprobe-installer/linux-x64/ffprobe /out/node_modules/@ffmpeg-installer/linux-x64/ffmpeg; \
    test -f /out/apps/api/dist/main.js

# ---------------------------------------------------------------------------
# runtime: production dependencies + compiled API, run as the unprivileged
# `node` user. Code stays root-owned (read-only for the process); only
# DATA_DIR is writable.
FROM base AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3142 \
    DATA_DIR=/app/.data
COPY --from=build /out/ ./
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node

# ---------------------------------------------------------------------------
# worker: job processors only (BullMQ on REDIS_URL). Scale with replicas.
FROM runtime AS worker
ENV RUN_WORKER=true
CMD ["node", "apps/api/dist/worker.js"]

# ---------------------------------------------------------------------------
# api: HTTP API on PORT (3142). Whether it also runs job processors is decided
# by RUN_WORKER at run time (docker-compose.yml sets it to false).
FROM runtime AS api
EXPOSE 3142
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3142) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/api/dist/main.js"]
