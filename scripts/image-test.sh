#!/usr/bin/env bash
# Builds the container image's runtime stage locally and runs the appliance inside it.
#
# Base images cannot be pulled here, so the Dockerfile's build stage cannot run; its runtime
# stage can: this script takes that stage from the Dockerfile itself (so the two cannot drift),
# feeds it the filesystem `scripts/rootfs.sh` lays out around the locally built static binary,
# builds it with buildah (`FROM scratch`, chroot isolation, vfs storage), then runs the image's
# own filesystem through `buildah mount` + `chroot` as the image's user, with the image's
# environment, and checks: `--version`, `migrate`, `serve` + `/healthz`, the `healthcheck`
# subcommand reaching the server by a name from /etc/hosts, a short API scenario, and a
# graceful stop on the image's STOPSIGNAL.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'image-test: %s\n' "$*"; }
fail() { printf 'image-test: FAILED: %s\n' "$*" >&2; exit 1; }

cargo build --release --locked
binary=target/x86_64-unknown-linux-gnu/release/mypostshare
file "$binary" | grep -q 'static' || fail "the release binary is not statically linked: $(file "$binary")"
size=$(stat -c %s "$binary")
[ "$size" -le $((20 * 1024 * 1024)) ] || fail "the release binary is $size bytes, over 20 MB"
say "binary: $size bytes, $(file -b "$binary" | cut -d, -f1-4)"

buildah() { command buildah --storage-driver vfs "$@"; }
work=$(mktemp -d)
container=""
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  if [ -n "$container" ]; then
    buildah umount "$container" >/dev/null 2>&1 || true
    buildah rm "$container" >/dev/null 2>&1 || true
  fi
  buildah rmi -f localhost/mypostshare:test >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/context"
scripts/rootfs.sh "$binary" "$work/context/image"
# The Dockerfile's runtime stage, reading the build stage's /image from the context instead.
awk '/^FROM scratch/{stage=1} stage' Dockerfile \
  | sed -E 's#^COPY --from=build (--chown=[^ ]+ )?/image/#COPY \1image/#' > "$work/context/Containerfile"
grep -qx 'COPY image/root/ /' "$work/context/Containerfile" \
  || fail "the Dockerfile's runtime stage no longer copies /image/root/ from the build stage"
grep -q -- '--from=build' "$work/context/Containerfile" \
  && fail "the runtime stage copies something from the build stage that is not under /image/"
buildah bud --isolation chroot --format docker --layers=false -q -f "$work/context/Containerfile" \
  -t localhost/mypostshare:test "$work/context" >/dev/null
container=$(buildah from localhost/mypostshare:test)
root=$(buildah mount "$container")
config=$(buildah inspect --type image localhost/mypostshare:test | jq '.Docker.config')
image_user=$(jq -r '.User' <<<"$config")
[ "$image_user" = "10001:10001" ] || fail "the image runs as '$image_user', not the unprivileged 10001"
mapfile -t image_env < <(jq -r '.Env[]' <<<"$config")
entrypoint=$(jq -r '.Entrypoint | join(" ")' <<<"$config")
stop_signal=$(jq -r '.StopSignal' <<<"$config")
healthcheck=$(jq -r '.Healthcheck.Test | join(" ")' <<<"$config")
[[ "$healthcheck" == *"/mypostshare healthcheck"* ]] || fail "the image's HEALTHCHECK is '$healthcheck'"
say "image: user $image_user, entrypoint $entrypoint, stop signal $stop_signal, env ${image_env[*]}"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# What a container runtime adds at start: the hosts file (a name for this test included).
printf '127.0.0.1 localhost appliance.internal\n' > "$root/etc/hosts"
# Run as the image would: its user, its environment (the address moved to a free port).
in_image() {
  env -i "${image_env[@]}" MYPOSTSHARE_ADDR="127.0.0.1:$port" \
    chroot --userspec="$image_user" "$root" $entrypoint "$@"
}

in_image --version | grep -q '^mypostshare ' || fail "--version"
in_image migrate --json | jq -e '.schemaVersion >= 1' >/dev/null || fail "migrate"

# Not through in_image: `$!` must be the server itself (env and chroot exec into it), so the
# stop signal reaches it and `wait` returns its exit status.
env -i "${image_env[@]}" MYPOSTSHARE_ADDR="127.0.0.1:$port" \
  chroot --userspec="$image_user" "$root" $entrypoint serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" | jq -e '.status == "ok"' >/dev/null \
  || fail "/healthz (log: $(cat "$work/serve.log"))"
in_image healthcheck || fail "healthcheck on the image's own address"
env -i "${image_env[@]}" MYPOSTSHARE_ADDR="appliance.internal:$port" \
  chroot --userspec="$image_user" "$root" $entrypoint healthcheck \
  || fail "healthcheck by a name resolved through /etc/hosts"

# A short API scenario: the admin CLI inside the image, the API from outside.
org=$(in_image org create --name "Image test" --json | jq -r .id)
app=$(in_image app create --org "$org" --name "Image app" --json | jq -r .id)
key=$(in_image key create --app "$app" --name ci --json | jq -r .key)
[ -n "$key" ] && [ "$key" != null ] || fail "key create"
status=$(curl -s -o "$work/user.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/end-users" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"externalUserId":"image-user","displayName":"Image User"}')
[ "$status" = 201 ] || fail "POST /api/v1/end-users answered $status: $(cat "$work/user.json")"
curl -fsS "http://127.0.0.1:$port/api/v1/end-users/image-user" -H "Authorization: Bearer $key" \
  | jq -e '.externalUserId == "image-user"' >/dev/null || fail "GET /api/v1/end-users/image-user"
[ "$(stat -c %u "$root/data/mypostshare.db")" = 10001 ] || fail "the database is not owned by the image's user"

# The image's stop signal: requests in flight finish, the process exits cleanly.
kill -s "${stop_signal#SIG}" "$server"
wait "$server" || fail "serve did not exit cleanly on $stop_signal (log: $(cat "$work/serve.log"))"
server=""
# The last line (after its timestamp in text logs) says the server stopped cleanly.
grep -Eq '(^| )stopped$' "$work/serve.log" || fail "no clean stop in the log: $(cat "$work/serve.log")"
say "image size: $(du -sb "$root" | cut -f1) bytes on disk"
say "ok: --version, migrate, serve + /healthz, healthcheck (by address and by /etc/hosts name), API scenario, graceful stop"
