# mypostshare: one static binary in an otherwise empty image.
#
# Build:  docker build -t mypostshare .
# Run:    docker run -d -p 8080:8080 -v mypostshare-data:/data \
#           -e MYPOSTSHARE_PUBLIC_URL=https://posts.example.com mypostshare
#
# The runtime stage (the last stage) is also what scripts/image-test.sh builds locally with
# buildah from a locally built binary, so the two cannot drift: that script reads this file's
# runtime stage and runs it.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The same build as outside Docker: .cargo/config.toml links glibc (and libstdc++, for the
# twitter-text crate's C++ part) statically, so the image runs exactly the binary the test
# command checks in an empty root.
RUN cargo build --release --locked \
 && scripts/rootfs.sh target/x86_64-unknown-linux-gnu/release/mypostshare /image

FROM scratch
COPY --from=build /image/root/ /
# COPY gives everything to root; the data directory belongs to the user the image runs as.
COPY --from=build --chown=10001:10001 /image/data/ /data/
USER 10001:10001
ENV MYPOSTSHARE_DB=/data/mypostshare.db \
    MYPOSTSHARE_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# No curl in this image: the binary checks /readyz itself (same MYPOSTSHARE_ADDR as serve).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/mypostshare", "healthcheck"]
# SIGTERM: finish the requests in flight; queued deliveries stay in SQLite.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/mypostshare"]
CMD ["serve"]
