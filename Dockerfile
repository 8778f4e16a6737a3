# memraft node image: `docker build -t memraft:0.1.0 .`
# Build stage: the TypeScript compiler and dev dependencies stay here.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts
COPY src ./src
RUN npm run build

# Runtime: node, the runtime dependencies, the built CLI; runs as the image's `node` user.
FROM node:20-slim
# MALLOC_*: glibc returns freed large buffers (snapshots, frames) instead of keeping them
# fragmented in its arenas: 2.2-2.5x memcached's RSS at 1M items instead of ~3x
# (docs/perf/memory.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MEMRAFT_LISTEN=0.0.0.0:11211 \
    MEMRAFT_ADMIN_LISTEN=0.0.0.0:11400 \
    MEMRAFT_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own prepare (a build) has nothing to build here.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN chmod +x dist/cli/main.js \
 && ln -s /app/dist/cli/main.js /usr/local/bin/memraft \
 && mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# client (memcached protocol), peer (Raft), admin HTTP (/readyz, /livez, /metrics, ctl)
EXPOSE 11211 11300 11400
ENTRYPOINT ["memraft", "serve"]
