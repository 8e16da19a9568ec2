# SPDX-License-Identifier: GPL-3.0-or-later
# Thin wrapper around the project's own scripts: the same install and build steps run
# natively in CI. Multi-stage: the runtime image holds the binary and its shared libraries.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN ./scripts/install-deps.sh \
 && cmake --preset release \
 && cmake --build --preset release -j"$(nproc)" \
 && DESTDIR=/out cmake --install build/release --prefix /usr

FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /out/usr/bin/astrameter /usr/bin/astrameter
COPY config.example.ini /app/config.example.ini
# Port 1010 (Shelly) is below 1024: allow binding it without root.
RUN setcap cap_net_bind_service=+ep /usr/bin/astrameter \
 && useradd --system --home /app --shell /usr/sbin/nologin astrameter
USER astrameter
WORKDIR /app
ENV LOG_LEVEL=info
CMD ["/usr/bin/astrameter", "-c", "/app/config.ini"]
