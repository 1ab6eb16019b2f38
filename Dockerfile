# cdc-fanout daemon image (used by docker-compose.yml).
# Stage 1 compiles src/ with tsc; the daemon then runs compiled JS (bin/cdc-fanout.js prefers dist/):
# no TypeScript compiler in the process, ~40 MB less RSS than running the sources through tsx, and
# the configuration bench:source measures. The demo scripts (scripts/demo) still run through tsx.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:24-slim
ENV NODE_ENV=production
# Cap V8's old generation like a JVM -Xmx: without it Node sizes the heap from the host's RAM and
# lets garbage pile up (docs/operations.md → Memory). `cdc-fanout run` adds the same cap and a
# 16 MB semi-space itself when they are missing (src/cli/heap.ts); this also covers the demo scripts.
ENV NODE_OPTIONS=--max-old-space-size=256
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY src ./src
COPY connectors ./connectors
COPY migrations ./migrations
COPY scripts/demo ./scripts/demo
COPY scripts/stack/endpoints.ts ./scripts/stack/endpoints.ts
COPY tsconfig.json ./
USER node
ENTRYPOINT []
# The daemon; docker-compose.yml runs the demo (scripts/demo) with this image instead.
CMD ["node", "bin/cdc-fanout.js", "run", "--config", "connectors/demo.yaml"]
