#!/usr/bin/env bash
# build-image.sh [TAG]: builds the dockercri container image from the top-level Dockerfile
# (default tag dockercri:dev; `npm run image` runs this).
#
# The base image is the Dockerfile's NODE_IMAGE build argument (default node:20-slim). Use it when it
# is present locally or can be pulled; when neither works (a machine with no access to Docker Hub)
# make a local stand-in, dockercri-base/node:20, from this host's own files instead:
#   node (`command -v node`) at /usr/local/bin/node and npm at /usr/local/lib/node_modules/npm, as
#   in the official image; every shared library `ldd` names for them; Debian's static busybox as
#   /bin/sh and the other small tools a RUN step uses; nsenter, socat and iptables (with their
#   libraries and xtables modules) when the host has them, the tools dockercri runs at run time;
#   the host's CA bundle (npm and node trust it through NODE_EXTRA_CA_CERTS, so a TLS-inspecting
#   egress proxy the host trusts works in RUN steps); a minimal /etc/passwd and /etc/group; /tmp.
# The stand-in is rebuilt only when it is missing or its node version or recipe (this file) differ.
#
# Environment:
#   NODE_IMAGE        base image to use instead of node:20-slim (no stand-in is made for it)
#   BUILD_NETWORK     network of the build's RUN steps (default host, so `npm ci` reaches the
#                     registry whatever the bridge may do; set to "default" for Docker's bridge)
#   IMAGE_VERSION     org.opencontainers.image.version (default: package.json's version)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
TAG=${1:-dockercri:dev}
DEFAULT_BASE=node:20-slim
LOCAL_BASE=dockercri-base/node:20
NODE_LABEL=io.dockercri.base.node-version
RECIPE_LABEL=io.dockercri.base.recipe

log() { echo "build-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

timeout 20 docker version >/dev/null 2>&1 || die "the Docker Engine does not answer (docker version failed)"

TMP=
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

# copy_file ROOT PATH: PATH's content into ROOT at the same place. Directory symlinks in PATH are
# resolved (the stand-in has the usrmerge links /lib -> usr/lib etc., so the resolved place is also
# reachable under the name ldd printed); a symlinked file is copied as its target's content.
copy_file() {
  local root=$1 path=$2 dir
  dir=$(readlink -f "$(dirname "$path")")
  mkdir -p "$root$dir"
  [ -e "$root$dir/$(basename "$path")" ] || cp -L "$path" "$root$dir/$(basename "$path")"
}

# copy_libs ROOT FILE...: every shared library ldd names for FILEs, and the dynamic loader
copy_libs() {
  local root=$1 lib; shift
  for lib in $(ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
    copy_file "$root" "$lib"
  done
}

make_local_base() { # make_local_base NODE_VERSION RECIPE
  local node npm_dir root bin
  node=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$node")")/lib/node_modules/npm
  [ -f "$npm_dir/bin/npm-cli.js" ] || npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
  npm_dir=$(readlink -f "$npm_dir")
  [ -f "$npm_dir/bin/npm-cli.js" ] || die "cannot find npm next to $node"
  [ -x /bin/busybox ] || die "/bin/busybox missing (install busybox-static: bash scripts/setup-host.sh)"

  root=$TMP/rootfs
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,usr/local/lib/node_modules,etc/ssl/certs,root,tmp,app,dev,proc,sys,run,var}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  ln -s ../run "$root/var/run"
  chmod 1777 "$root/tmp"; chmod 0700 "$root/root"

  install -m 0755 "$node" "$root/usr/local/bin/node"
  copy_libs "$root" "$node"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

  # run-time tools of dockercri: port-forward enters a pod's netns (nsenter + socat); CNI plugins
  # such as bridge and portmap run iptables
  for bin in nsenter socat; do
    if command -v "$bin" >/dev/null; then
      install -m 0755 "$(readlink -f "$(command -v "$bin")")" "$root/usr/bin/$bin"
      copy_libs "$root" "$(command -v "$bin")"
    else
      log "warning: no $bin on this host; the stand-in base lacks it"
    fi
  done
  if command -v xtables-nft-multi >/dev/null; then
    local xt; xt=$(readlink -f "$(command -v xtables-nft-multi)")
    install -m 0755 "$xt" "$root/usr/sbin/xtables-nft-multi"
    copy_libs "$root" "$xt"
    for bin in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
      ln -s xtables-nft-multi "$root/usr/sbin/$bin"
    done
    local mods=/usr/lib/x86_64-linux-gnu/xtables
    [ -d "$mods" ] || mods=$(dirname "$(ldd "$xt" | awk '/libxtables/{print $3}')")/xtables
    if [ -d "$mods" ]; then
      mkdir -p "$root$(readlink -f "$mods")"
      cp -L "$mods"/*.so "$root$(readlink -f "$mods")/"
      copy_libs "$root" "$mods"/*.so
    fi
    for f in /etc/protocols /etc/services /etc/ethertypes; do [ -f "$f" ] && cp "$f" "$root/etc/"; done
  else
    log "warning: no iptables (xtables-nft-multi) on this host; the stand-in base lacks it"
  fi

  # a shell and the small tools RUN steps use, as busybox applets that do not hide a real binary
  install -m 0755 /bin/busybox "$root/usr/bin/busybox"
  for bin in $(/bin/busybox --list); do
    [ "$bin" = busybox ] && continue
    [ -e "$root/usr/bin/$bin" ] || [ -e "$root/usr/sbin/$bin" ] || ln -s busybox "$root/usr/bin/$bin"
  done

  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"

  tar -C "$root" --sort=name --numeric-owner --mtime=@0 -cf "$TMP/rootfs.tar" .
  cat >"$TMP/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    NODE_VERSION=${1#v} \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
LABEL $NODE_LABEL=$1 $RECIPE_LABEL=$2
CMD ["node"]
EOF
  log "making the local base $LOCAL_BASE from this host's node $1 ($node)"
  DOCKER_BUILDKIT=0 docker build -q -t "$LOCAL_BASE" "$TMP" >/dev/null || die "docker build of $LOCAL_BASE failed"
  docker run --rm "$LOCAL_BASE" node -e 'process.exit(0)' || die "$LOCAL_BASE: node does not run in it"
  docker run --rm "$LOCAL_BASE" sh -c 'npm --version >/dev/null' || die "$LOCAL_BASE: npm does not run in it"
}

choose_base() { # sets BASE
  if [ -n "${NODE_IMAGE:-}" ]; then
    has_image "$NODE_IMAGE" || docker pull -q "$NODE_IMAGE" >/dev/null 2>&1 || die "base image $NODE_IMAGE is neither present nor pullable"
    BASE=$NODE_IMAGE; log "base: $BASE (from NODE_IMAGE)"; return
  fi
  if has_image "$DEFAULT_BASE"; then BASE=$DEFAULT_BASE; log "base: $BASE (present locally)"; return; fi
  if timeout 120 docker pull -q "$DEFAULT_BASE" >/dev/null 2>&1; then BASE=$DEFAULT_BASE; log "base: $BASE (pulled)"; return; fi
  command -v node >/dev/null || die "$DEFAULT_BASE cannot be pulled and there is no node on this host to make a local base from"
  local version recipe
  version=$(node --version)
  recipe=$(sha256sum <"$0" | cut -c1-16)
  if [ "$(label_of "$LOCAL_BASE" "$NODE_LABEL")" = "$version" ] && [ "$(label_of "$LOCAL_BASE" "$RECIPE_LABEL")" = "$recipe" ]; then
    log "base: $LOCAL_BASE (local stand-in for $DEFAULT_BASE, node $version, already made)"
  else
    TMP=$(mktemp -d /tmp/dockercri-image-base.XXXXXX)
    make_local_base "$version" "$recipe"
    log "base: $LOCAL_BASE (local stand-in for $DEFAULT_BASE, node $version, made now)"
  fi
  BASE=$LOCAL_BASE
}

choose_base

version=${IMAGE_VERSION:-$(node -p 'require(process.argv[1]).version' "$REPO/package.json" 2>/dev/null || echo 0.0.0)}
revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then revision=$revision-dirty; fi
source=$(git -C "$REPO" remote get-url origin 2>/dev/null || true)
case $source in *@*|*://*:*@*) source= ;; esac # never a URL with credentials or an ssh login in it
network=${BUILD_NETWORK:-host}

log "building $TAG (version $version, revision $revision, build network $network)"
start=$(date +%s)
old=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build --force-rm \
  --network "$network" \
  --build-arg "NODE_IMAGE=$BASE" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "SOURCE=$source" \
  -t "$TAG" "$REPO"
log "built $TAG on $BASE in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
# the image this build replaced, unless a container or another tag still uses it (rmi refuses
# then); the compile stage's intermediate images stay as the classic builder's cache
new=$(docker image inspect -f '{{.Id}}' "$TAG")
if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
