# SPDX-License-Identifier: GPL-3.0-or-later
# Thin wrapper around the project's scripts (CI runs the same ones natively):
#   build:   scripts/install-deps.sh + scripts/build-release.sh
#   runtime: scripts/docker-runtime.sh (shared libraries, cap_net_bind_service, user)
# docker build -t astrameter . && docker compose up -d   (see docs/installation/docker.md)
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN ./scripts/install-deps.sh \
 && DESTDIR=/out JOBS="$(nproc)" ./scripts/build-release.sh /build

FROM debian:bookworm-slim
COPY --from=build /out/usr/bin/astrameter /usr/bin/astrameter
COPY --from=build /out/usr/share/astrameter/config.example.ini /app/config.example.ini
COPY scripts/install-deps.sh scripts/docker-runtime.sh /tmp/scripts/
RUN /tmp/scripts/docker-runtime.sh && rm -rf /tmp/scripts
USER astrameter
WORKDIR /app
ENV LOG_LEVEL=info \
    STATE_DIRECTORY=/app/state
# CT002/CT003, Shelly Pro 3EM (1010, 2220), EM gen3, Pro EM50; health endpoint.
EXPOSE 12345/udp 1010/udp 2220/udp 2222/udp 2223/udp 52500/tcp
# The binary asks its own /health (port from the config): no curl in the image.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/usr/bin/astrameter", "-c", "/app/config.ini", "--healthcheck"]
CMD ["/usr/bin/astrameter", "-c", "/app/config.ini"]
