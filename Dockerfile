# One image for every virtflow service (parser, scheduler, host agent) and the CLI.
# The services run from their TypeScript sources through tsx, as they do outside Docker:
#   docker compose up          (docker-compose.yml picks the command per service)
FROM node:20-bookworm-slim

# QEMU for the host agents (VIRTFLOW_HYPERVISOR=qemu); the other services do not use it,
# but one image keeps the build simple. `hostCapabilities()` probes it at start.
RUN apt-get update \
 && apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
COPY packages/model/package.json packages/model/
COPY packages/runtime/package.json packages/runtime/
COPY packages/client/package.json packages/client/
COPY services/parser/package.json services/parser/
COPY services/scheduler/package.json services/scheduler/
COPY services/host-agent/package.json services/host-agent/
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

ENV NODE_ENV=production \
    VIRTFLOW_HTTP_HOST=0.0.0.0 \
    VIRTFLOW_HTTP_PORT=9464
EXPOSE 9464
# /healthz answers 200 when the service is ready (every service serves it on VIRTFLOW_HTTP_PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.VIRTFLOW_HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "services/parser/src/main.ts", "--stages", "all"]
