# Build stage: compile the release binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
COPY seed ./seed
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin huiqi

# Run stage: a small image with the binary only, running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data huiqi \
 && mkdir -p /data && chown huiqi /data
COPY --from=build /src/target/release/huiqi /usr/local/bin/huiqi
USER huiqi
ENV HUIQI_DATA=/data HUIQI_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["huiqi"]
CMD ["serve"]
