# dockercri's container image. Build it with `npm run image` (scripts/build-image.sh), which picks
# the base: NODE_IMAGE when that is present or pullable, else a local stand-in made from the host.
# Stage 1 compiles (npm ci with dev dependencies, gen + tsc + bundle), then drops the dev
# dependencies; stage 2 holds only the bundle (dist/dockercri.js), package.json and the production
# node_modules: pino-pretty, for logs on a terminal, and what it needs.
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Install scripts are skipped: none is needed (ssh2 and cpu-features, reached through dockerode,
# only build optional native speed-ups that a unix-socket Docker client never uses).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/gen-proto.mjs scripts/bundle.mjs scripts/
COPY proto proto
COPY src src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find dist -name '*.map' -exec rm -f {} + \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -exec rmdir {} +

FROM ${NODE_IMAGE}
# Run-time tools: port-forward runs `nsenter -n socat` in the pod's network namespace, and CNI
# plugins such as bridge and portmap run iptables. Installed from Debian only when the base lacks
# them (the official slim image has nsenter; the local stand-in carries all three).
RUN missing=; \
    command -v socat >/dev/null || missing="$missing socat"; \
    command -v iptables >/dev/null || missing="$missing iptables"; \
    command -v nsenter >/dev/null || missing="$missing util-linux"; \
    if [ -n "$missing" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/dockercri.js ./dist/
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=1 \
    MALLOC_MMAP_THRESHOLD_=32768 \
    DOCKERCRI_HEALTH_ADDR=127.0.0.1:9324
# The health endpoint is served by --metrics-bind-addr; point DOCKERCRI_HEALTH_ADDR at it when the
# flag is given another address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://' + process.env.DOCKERCRI_HEALTH_ADDR + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# last, so a new revision reuses every layer above
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.title="dockercri" \
      org.opencontainers.image.description="A Kubernetes CRI runtime (runtime.v1) for Docker Engine: a drop-in replacement for cri-dockerd" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
STOPSIGNAL SIGTERM
# node itself is the container's main process (PID 1 without --pid=host): dockercri installs its
# own SIGTERM and SIGINT handlers, drains in-flight calls and exits 0. The node flags are those of
# dockercri.js's #! line, which this command line bypasses (its MALLOC_ARENA_MAX and
# MALLOC_MMAP_THRESHOLD_ are set above).
ENTRYPOINT ["node", "--max-semi-space-size=4", "--v8-pool-size=1", "--heap-growing-percent=50", "/app/dist/dockercri.js"]
CMD ["--container-runtime-endpoint=unix:///run/dockercri/cri-dockerd.sock", "--metrics-bind-addr=127.0.0.1:9324"]
