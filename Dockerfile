# syntax=docker/dockerfile:1
# chatbox production image: `docker build -t chatbox .` then
#   docker run -p 8080:8080 -e JWT_SECRET="$(openssl rand -base64 48)" chatbox
# Same steps as `npm start` (`npm run build && node --max-semi-space-size=64
# --heap-growing-percent=100 dist/main.js`),
# split so that the final image holds the compiled JavaScript and the production dependencies only.
#
# Debian (glibc) base, not Alpine: uWebSockets.js ships glibc binaries only (on musl the server
# stops with a message unless TRANSPORT=ws).
ARG NODE_VERSION=20

# --- build: every dependency, then tsc -> dist/ and the web app (Vite) -> dist/web
FROM node:${NODE_VERSION}-bookworm-slim AS build
# better-sqlite3's native addon: prebuild-install downloads a binary, else node-gyp compiles it
# with these (build stages only: the runtime image gets the built node_modules).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only, in their own stage so the final COPY is one layer
FROM node:${NODE_VERSION}-bookworm-slim AS deps
# better-sqlite3's native addon: prebuild-install downloads a binary, else node-gyp compiles it
# with these (build stages only: the runtime image gets the built node_modules).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    PATH_PREFIX=/chatbox \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The code stays owned by root and read-only to the server; only DATA_DIR is writable (in
# Kubernetes an emptyDir is mounted there, the root filesystem being read-only).
RUN mkdir -p /app/data && chown 1000:1000 /app/data
# Numeric (the image's `node` user) so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
VOLUME ["/app/data"]
# SIGTERM starts the graceful drain (SHUTDOWN_GRACE_S, default 10 s); node runs as PID 1 and
# handles it itself, so no init wrapper is needed to forward it.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+(process.env.PATH_PREFIX??'/chatbox')+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# --max-semi-space-size=64: a young generation large enough that a streaming reply's state dies
# in it instead of being promoted; --heap-growing-percent=100: the old generation may grow to
# twice what the last full GC kept before the next one (as Go's GOGC=100), so a busy server runs
# one or two mark-compacts a minute instead of about ten (README, "Operate it": fewer pauses in
# the latency tail, for ~40 + ~10 MiB more RSS at 2,000 users); the same flags as `npm start`,
# checked by test/deploy.
CMD ["node", "--max-semi-space-size=64", "--heap-growing-percent=100", "dist/main.js"]
