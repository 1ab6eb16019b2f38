# cdc-fanout daemon image (used by docker-compose.yml). Runs the TypeScript sources through tsx, a
# runtime dependency, so the image needs no build step.
FROM node:22-slim
ENV NODE_ENV=production
# Cap V8's old generation like a JVM -Xmx: without it Node sizes the heap from the host's RAM and
# lets garbage pile up (README → Operations → Memory; bench/results/daemon-heap256.json).
ENV NODE_OPTIONS=--max-old-space-size=256
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY connectors ./connectors
COPY migrations ./migrations
COPY scripts/demo ./scripts/demo
COPY tsconfig.json ./
USER node
ENTRYPOINT []
# The daemon; docker-compose.yml runs the demo (scripts/demo) with this image instead.
CMD ["node", "bin/cdc-fanout.js", "run", "--config", "connectors/demo.yaml"]
