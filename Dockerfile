# syntax=docker/dockerfile:1
#
# keda-llm-scaler image: build with dev dependencies, run with production dependencies only.
#   docker build -t keda-llm-scaler:0.1.0 .
# The base is pinned by tag (readable) and by the multi-arch manifest-list digest (immutable), so a
# rebuild months later gets the same Node and Debian bits. Bump both together, and keep the Node
# version equal to the `node` devDependency in package.json (the runtime development and CI use).
# Digest: the OCI image index of node:24.21.0-bookworm-slim as published by Docker Official Images
# (docker-library/repo-info, repos/node/remote/24.21.0-bookworm-slim.md, build of 19 Sep 2026).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:0e0ff40c39bc087845bfb27465a0df4ea419520094bc35842ff83dd8cbe6f9b6

FROM ${NODE_IMAGE} AS build
WORKDIR /build
# Dependencies first, so source edits do not invalidate the npm layer. --ignore-scripts: nothing the
# compiler needs runs an install script, and scripts that download prebuilt binaries fail offline.
# That includes the `node` devDependency: without its install script it links no binary, so the
# build runs on the base image's Node, which is the same release.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
# tsc -p tsconfig.build.json emits dist/src/**/*.js with the .ts import extensions rewritten to .js.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# The process never writes outside /tmp; pointing HOME there keeps any library that looks for a home
# directory off the read-only root filesystem.
ENV NODE_ENV=production \
    HOME=/tmp
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*
# The server finds proto/ by walking up from its own module directory (dist/src/server -> /app).
COPY proto ./proto
COPY --from=build /build/dist ./dist
# Numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric USER. Files stay root-owned and
# read-only to the process.
USER 10001:10001
# 6000: gRPC ExternalScaler + grpc.health.v1 + reflection (the scalerAddress port).
# 8080: HTTP /metrics, /healthz, /readyz, /debug/decisions.
EXPOSE 6000 8080
# --no-allocation-site-pretenuring: V8 otherwise starts allocating the objects of a site whose
# objects often survived a collection straight into the old generation. Under KEDA's polls that
# sends gRPC's per-call objects there, where only a full collection frees them: with the flag the
# scaler's scavenges took ~3.5 ms instead of ~7 and it ran 0-1 full collections in 15 s instead of
# 3-5 (docs/reliability.md). NODE_OPTIONS refuses this flag, so it is here; `npm run bench:grpc`
# reads this line and starts both servers with the same flags.
ENTRYPOINT ["node", "--no-allocation-site-pretenuring", "--enable-source-maps", "dist/src/cli.js"]
CMD ["serve"]
