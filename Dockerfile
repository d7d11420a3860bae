# syntax=docker/dockerfile:1
# One image, three roles: `api`, `worker`, `migrate` (and `cli ...`), chosen by the command.
#   docker build -t turumba-dispatch .
#   docker run --env-file .env turumba-dispatch migrate
# scripts/ci/production-start.sh runs these same steps (build, prod-only install,
# entrypoint, healthcheck) without Docker, so CI exercises them.

# Debian, not Alpine: @temporalio/core-bridge ships glibc binaries only.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# --- all dependencies, for the build ---------------------------------------------------
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci

# --- compile to dist/, copy the SQL, prebuild dist/workflow-bundle.js -------------------
FROM deps AS build
COPY . .
RUN npm run build

# --- production dependencies only -------------------------------------------------------
FROM base AS prod-deps
COPY package.json package-lock.json ./
COPY scripts/docker/prune-core-bridge.sh /usr/local/bin/prune-core-bridge
# The Temporal core bridge carries binaries for five platforms; keep this one's.
RUN npm ci --omit=dev \
 && npm cache clean --force \
 && sh /usr/local/bin/prune-core-bridge

# --- runtime ----------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    API_PORT=3000 \
    WORKER_METRICS_PORT=9464
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY scripts/docker ./scripts/docker

# Code stays owned by root and read-only to the process; it runs as the image's `node` user.
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/bin/sh", "/app/scripts/docker/healthcheck.sh"]
ENTRYPOINT ["/bin/sh", "/app/scripts/docker/entrypoint.sh"]
CMD ["api"]
