# syntax=docker/dockerfile:1
# clinicload image for the Kubernetes Jobs in deploy/kubernetes/ (docs/distributed.md):
#   docker build -t clinicload:latest .
# The PostgreSQL migrations are compiled into the binary (sqlx::migrate!), so the runtime image
# needs only the binary; scenarios/ is copied to /opt/clinicload/scenarios for convenience.
# The stores' URLs come from the environment (DATABASE_URL, MONGODB_URI, REDIS_URL), never
# from the image.

FROM rust:1-bookworm AS build
WORKDIR /src
# benches/ because Cargo.toml declares [[bench]] targets, which cargo checks exist;
# migrations/ because sqlx::migrate! embeds them at compile time.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY migrations ./migrations
COPY src ./src
# The registry and target/ are cache mounts (BuildKit), so the binary is copied out in the
# same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/clinicload /usr/local/bin/clinicload

FROM debian:bookworm-slim
# ca-certificates for TLS connections to the stores; unpinned on purpose, so that a rebuild
# picks up Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 clinicload \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin clinicload
COPY --from=build /usr/local/bin/clinicload /usr/local/bin/clinicload
COPY scenarios /opt/clinicload/scenarios
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["clinicload"]
CMD ["--help"]
