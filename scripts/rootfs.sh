#!/usr/bin/env bash
# Lays out the runtime image's files around a static mypostshare binary:
#   rootfs.sh BINARY DIR
# DIR/root is the filesystem (the binary, a passwd/group entry for the unprivileged user 10001,
# nsswitch.conf, /tmp); DIR/data is the empty data directory, copied separately with
# `--chown` because COPY gives what it copies to root. Used by the Dockerfile's build stage and
# by scripts/image-test.sh (local buildah build), so both images hold the same files.
set -euo pipefail
binary=$1
out=$2
root="$out/root"
mkdir -p "$root/etc" "$root/tmp" "$out/data"
install -m 0755 "$binary" "$root/mypostshare"
echo 'mypostshare:x:10001:10001:mypostshare:/data:/mypostshare' > "$root/etc/passwd"
echo 'mypostshare:x:10001:' > "$root/etc/group"
# Names resolve from /etc/hosts first, then DNS.
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
chmod 0700 "$out/data"
