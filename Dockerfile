# mypostshare: one static binary in an otherwise empty image.
#
# Build:  docker build -t mypostshare .
# Run:    docker run -d -p 8080:8080 -v mypostshare-data:/data \
#           -e MYPOSTSHARE_PUBLIC_URL=https://posts.example.com mypostshare
#
# The runtime stage (from `FROM scratch` on) is also what `scripts/image.sh` builds locally
# with buildah from a locally built binary, so the two cannot drift: that script reads this
# file's runtime stage and runs it.

FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# musl here (the target is installable in this stage); the plain `cargo build --release`
# outside Docker links glibc statically instead (.cargo/config.toml).
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && scripts/rootfs.sh target/x86_64-unknown-linux-musl/release/mypostshare /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 10001:10001
ENV MYPOSTSHARE_DB=/data/mypostshare.db \
    MYPOSTSHARE_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# No curl in this image: the binary checks /readyz itself (same MYPOSTSHARE_ADDR as serve).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/mypostshare", "healthcheck"]
# SIGTERM: finish the requests in flight, leave deliveries leased or queued in SQLite.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/mypostshare"]
CMD ["serve"]
