# swr-migrate as a long-running `serve` (webhooks, schedule, embedded queue, /healthz, /metrics) for
# Kubernetes (deploy/kubernetes/, docs/deploy-kubernetes.md) or any container runtime.
#
# Build stage: the full install, because `npm run build` type-checks the project before esbuild
# bundles the CLI (scripts/build-cli.mjs) into dist/cli/swr-migrate.mjs and its chunks.
FROM node:22-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied in, and no dependency needs
# its install script to bundle (esbuild's binary comes from its optional @esbuild/<platform> package).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY lib ./lib
COPY functions ./functions
COPY bench ./bench
COPY test ./test
RUN npm run build

# Runtime stage: the bundle leaves nothing external but Node's built-ins (scripts/build-cli.mjs;
# test/e2e/bundle.test.ts runs it from a directory without node_modules), so no node_modules here.
FROM node:22-slim
ENV NODE_ENV=production
COPY --from=build /src/dist/cli /app/dist/cli
# The state directory: the DLQ, the digest memo and the embedded queue's state files go to
# .swr-migrate/ under the working directory (the CLI's default --dlq path, lib/queue/dlq-path.ts),
# so making it the working directory puts them on the volume. UID 1000 is the image's `node` user.
RUN mkdir -p /var/lib/swr-migrate && chown 1000:1000 /var/lib/swr-migrate
WORKDIR /var/lib/swr-migrate
VOLUME ["/var/lib/swr-migrate"]
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/cli/swr-migrate.mjs"]
CMD ["serve", "--config", "/etc/swr-migrate/config.yaml", "--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/swr-migrate"]
