# ZooGate server image: one `zoogate server` per container, configured by
# ZOOGATE_* environment variables (see README "Configuration"), data in /data.
#
#   docker build -t zoogate .
#   docker run -p 8181:8181 -v zoogate-data:/data zoogate            # standalone
#   docker compose up -d                                             # 3-node ensemble
#
# test/compose/ starts exactly the ENTRYPOINT + CMD below (exec form, parsed from
# this file) with each compose service's environment, so keep both in JSON form.

# ---- build: dependencies, with better-sqlite3 compiled for this Node and libc ----
FROM node:20-bookworm AS build
WORKDIR /app
# Compile better-sqlite3 from source against the image's own Node headers
# (/usr/local/include/node) instead of fetching a prebuilt binary: the .node
# then matches Node 20's ABI and bookworm's glibc, which the runtime stage shares,
# and the build needs nothing but the npm registry.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# Then drop the dev dependencies and the compiler's leftovers (objects, the static
# SQLite library, the amalgamation's source): only better_sqlite3.node is loaded.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find build/Release -mindepth 1 ! -name better_sqlite3.node -exec rm -rf {} + \
 && rm -rf deps src \
 && cd /app \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# ---- runtime: Node 20 slim (same Debian release, so the same glibc) ----
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    ZOOGATE_HOST=0.0.0.0 \
    ZOOGATE_PORT=8181 \
    ZOOGATE_PEER_PORT=2888 \
    ZOOGATE_DATA_DIR=/data
# Application files stay root-owned (read-only to the server); only /data is the server's.
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json openapi.yaml ./
COPY bin ./bin
COPY api ./api
COPY core ./core
COPY storage ./storage
COPY cli ./cli
COPY client ./client
# The image's own smoke test: the compiled module loads here, under the runtime's Node and libc.
RUN node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 8181: clients (HTTP, WebSocket, SSE); 2888: peers (ZAB streams between servers)
EXPOSE 8181 2888
# /ready is 200 once the server serves: it has a leader and is synced with it.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ZOOGATE_PORT||8181)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself (docker stop): it closes its ports and exits 0.
ENTRYPOINT ["node", "--max-semi-space-size=64", "--import", "tsx", "api/main.ts"]
CMD ["server"]
