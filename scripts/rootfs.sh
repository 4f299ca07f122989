#!/usr/bin/env bash
# Lays out the runtime image's filesystem around a static mypostshare binary:
#   rootfs.sh BINARY DIR
# Used by the Dockerfile's build stage and by scripts/image.sh (local buildah build), so both
# images hold the same files: the binary, a passwd/group entry for the unprivileged user
# 10001, /data owned by it, and /tmp.
set -euo pipefail
binary=$1
root=$2
mkdir -p "$root/etc" "$root/data" "$root/tmp"
install -m 0755 "$binary" "$root/mypostshare"
echo 'mypostshare:x:10001:10001:mypostshare:/data:/mypostshare' > "$root/etc/passwd"
echo 'mypostshare:x:10001:' > "$root/etc/group"
# Names resolve from /etc/hosts first, then DNS (glibc's and musl's defaults agree on this).
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
chown 10001:10001 "$root/data"
chmod 0700 "$root/data"
chmod 1777 "$root/tmp"
