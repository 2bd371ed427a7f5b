# syntax=docker/dockerfile:1
# One image for any binary of the workspace:
#
#   docker build --build-arg FUNCTION=create-campaign -t create-campaign .
#
# FUNCTION: register-influencer, create-campaign, send-contract, generate-report,
# compensate-report, pulsar-bridge, local-gateway or migrate.
# The dependencies are compiled in their own layer (cargo-chef), shared by every FUNCTION
# and rebuilt only when Cargo.toml / Cargo.lock change. The final image holds the binary
# (/app/function, the entrypoint), the C runtime and the CA certificates of distroless,
# and runs as the nonroot user (uid 65532).
# RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:debug-nonroot adds busybox (a shell and
# wget), which docker-compose.yml uses for its health checks; production keeps :nonroot.

ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION=0.1.73
# protoc: the pulsar crate compiles its protocol definitions at build time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: no FUNCTION argument above this line, so every image shares it.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
ARG FUNCTION=register-influencer
RUN sh docker/build-binary.sh "${FUNCTION}" /out/function

FROM ${RUNTIME_IMAGE}
COPY --from=builder /out/function /app/function
USER nonroot
ENV PORT=8080 RUST_LOG=info
EXPOSE 8080
ENTRYPOINT ["/app/function"]
