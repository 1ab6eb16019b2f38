# cdc-fanout daemon image (used by docker-compose.yml). Runs the TypeScript sources through tsx, a
# runtime dependency, so the image needs no build step.
FROM node:22-slim
ENV NODE_ENV=production
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
