#!/usr/bin/env bash
# mkrootfs.sh OUT.tar [BUSYBOX]: the root filesystem of dockercri-test/busybox as a tar archive.
#   /bin/busybox (static) and one HARD link per applet, as in the upstream busybox image: a masked
#   path (/dev/null bind-mounted over /bin/<applet>) must hit only that name, which a symlink to
#   busybox would not do. `busybox --list` names busybox itself; linking it would clobber the binary.
#   /etc/passwd, /etc/group from this directory; /tmp 1777; /root; /home/www owned by www (1000).
set -euo pipefail
out=$1
busybox=${2:-/bin/busybox}
here=$(cd "$(dirname "$0")" && pwd)

if ! "$busybox" --list >/dev/null 2>&1; then
  echo "mkrootfs: $busybox is not a working busybox (install busybox-static)" >&2; exit 1
fi
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
  echo "mkrootfs: $busybox is not statically linked (install busybox-static)" >&2; exit 1
fi

root=$(mktemp -d /tmp/dockercri-busybox-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
mkdir -p "$root"/{bin,etc,root,tmp,home/www,var/run,dev,proc,sys}
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln "$root/bin/busybox" "$root/bin/$applet"
done
install -m 0644 "$here/passwd" "$root/etc/passwd"
install -m 0644 "$here/group" "$root/etc/group"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
chown 1000:1000 "$root/home/www"
# a stable archive: sorted names, numeric owners, fixed times (same input, same layer)
tar -C "$root" --sort=name --numeric-owner --mtime=@0 -cf "$out" .
