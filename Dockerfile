# One image for every Verity role; docker-compose.yml picks the role through `command`.
FROM node:24-bookworm-slim

# ffmpeg backs fluent-ffmpeg for video media. The slim image has no fonts at all, and sharp
# draws SVG text (the simulator's plates and caption bars) with whatever fontconfig finds:
# without DejaVu that text comes out as empty boxes.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Manifests first, so a source-only change reuses the installed node_modules layer.
# Dev dependencies stay: every role runs its TypeScript directly through tsx.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

# The code stays root-owned, so the unprivileged role processes cannot rewrite it.
COPY . .

# Named volumes start as a copy of the directory they are mounted over, ownership included:
# creating these as `node` is what lets the roles write media and simulator keys to them.
RUN mkdir -p /var/lib/verity/media /var/lib/verity/data /var/lib/verity/gateway-keys && chown -R node:node /var/lib/verity

# The image's own defaults point at writable places and listen beyond loopback, which is the
# only way a container's port is reachable; docker-compose.yml sets them again explicitly.
ENV DATA_DIR=/var/lib/verity/data \
  MEDIA_DIR=/var/lib/verity/media \
  HTTP_HOST=0.0.0.0 \
  NPM_CONFIG_UPDATE_NOTIFIER=false

# glibc's malloc opens an arena per allocating thread and seldom returns their freed memory; with
# libvips decoding on libuv's threads the workers' RSS kept growing under reconnects (issue 14,
# docs/reliability.md). Two arenas kept it flat and about 80 MB lower at the same throughput.
# It must be set before the process starts, so it lives here rather than in the code.
ENV MALLOC_ARENA_MAX=2

USER node

EXPOSE 8080 8081 8082
CMD ["npm", "run", "start:review-ui"]
