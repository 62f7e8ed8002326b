# notifyd container image.
#
#   podman build -t notifyd:0.1.0 .        (or: docker build -t notifyd:0.1.0 .)
#
# Two stages: a full Debian 12 with the build dependencies compiles notifyd with
# CMake; the image that ships is debian:12-slim with only the shared libraries
# the binary loads and a non-root user. The web console is compiled into the
# binary, so the binary is all that is copied across.
#
# tests/deploy/check_image_libs.mjs checks that every library `ldd` shows for
# build/notifyd comes from a package the runtime stage installs (or one they
# depend on), and that the build stage installs the build group of
# scripts/deps.sh: keep the two package lists below in step with it.
# tests/deploy/validate_k8s.mjs checks that the UID, ports, data directory and
# image name here match k8s/.

# ---------------------------------------------------------------- build stage
FROM debian:12 AS build

# scripts/deps.sh (build group), plus libc6-dev which gcc only recommends
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config ca-certificates \
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libwebsockets-dev libjwt-dev \
      libjansson-dev libssl-dev uthash-dev libcmocka-dev libsqlite3-dev libhiredis-dev libev-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# the whole tree (less .dockerignore): CMake embeds web/ and clients/browser/
# into the binary when they exist, and its configure step wants tests/unit/
COPY . .
RUN cmake -S . -B /tmp/build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOTIFYD_TEST_FAULTS=OFF \
 && cmake --build /tmp/build --target notifyd -j"$(nproc)" \
 && /tmp/build/notifyd --version

# -------------------------------------------------------------- runtime stage
FROM debian:12-slim

# Only what `ldd notifyd` needs; apt brings their own dependencies (abseil,
# re2, c-ares, libstdc++, libcap2, libb64, zlib...). No ca-certificates: notifyd
# makes no outgoing TLS connections.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc29 libprotobuf-c1 libwebsockets17 libjwt0 libjansson4 libsqlite3-0 libssl3 \
      libhiredis0.14 libev4 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# UID/GID 10001 = runAsUser/runAsGroup in k8s/deployment.yaml. The data dir
# (messages.db, and jwt_secret when NOTIFYD_JWT_SECRET is unset) belongs to it;
# in Kubernetes a volume is mounted there (the root filesystem is read-only).
RUN groupadd --system --gid 10001 notifyd \
 && useradd --system --uid 10001 --gid notifyd --no-create-home \
      --home-dir /var/lib/notifyd --shell /usr/sbin/nologin notifyd \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/notifyd

COPY --from=build /tmp/build/notifyd /usr/local/bin/notifyd
COPY --from=build /src/LICENSE /usr/share/doc/notifyd/LICENSE

LABEL org.opencontainers.image.title="notifyd" \
      org.opencontainers.image.description="Real-time notification service: gRPC in, WebSocket out" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV NOTIFYD_DATA_DIR=/var/lib/notifyd
WORKDIR /var/lib/notifyd
USER 10001:10001

# 50051 gRPC (NOTIFYD_GRPC_ADDR), 8080 WebSocket/REST/health/metrics (NOTIFYD_HTTP_ADDR)
EXPOSE 50051 8080

# notifyd handles SIGTERM itself (drain, close WebSockets with 1001, exit 0).
ENTRYPOINT ["notifyd"]
