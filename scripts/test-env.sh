#!/usr/bin/env bash
# The local test environment of dockercri's integration tests. Idempotent: `up` on an environment
# that is already up checks it and returns in a couple of seconds.
#
#   test-env.sh up     needs a Docker Engine that answers (scripts/setup-host.sh starts one).
#                      Builds (only when their sources changed; DOCKER_BUILDKIT=0, nothing pulled):
#                        registry.k8s.io/pause:3.10              images/pause (static C, FROM scratch)
#                        dockercri-test/busybox:latest           images/busybox (Debian's static busybox)
#                        dockercri-test/busybox-user:latest      images/busybox-user (USER 1000)
#                        dockercri-test/busybox-username:latest  images/busybox-username (USER www)
#                      Serves two registries (Debian docker-registry, delete enabled):
#                        127.0.0.1:5000  no auth
#                        127.0.0.1:5001  htpasswd basic auth, user dockercri / s3cret-pass
#                      and pushes 127.0.0.1:5000/dockercri-test/busybox:{latest,v2},
#                      127.0.0.1:5000/dockercri-test/pause:3.10 and 127.0.0.1:5001/private/busybox:latest.
#                      The registry-prefixed tags it creates are removed again, so a test's pull
#                      really pulls; Docker is left with no stored registry credentials.
#                      Writes the facts for the tests to /run/dockercri-test/env.json.
#   test-env.sh down   stops the registries `up` started (pid files); images and data stay.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE_DIR=/run/dockercri-test
DATA_DIR=/var/lib/dockercri-test
ENV_JSON=$STATE_DIR/env.json
PUSH_STATE=$DATA_DIR/pushed.tsv
HASH_LABEL=io.dockercri.test.source-hash

PLAIN_ADDR=127.0.0.1:5000
AUTH_ADDR=127.0.0.1:5001
AUTH_USER=dockercri
AUTH_PASSWORD=s3cret-pass

PAUSE_IMAGE=registry.k8s.io/pause:3.10
BUSYBOX_IMAGE=dockercri-test/busybox:latest
BUSYBOX_USER_IMAGE=dockercri-test/busybox-user:latest
BUSYBOX_USERNAME_IMAGE=dockercri-test/busybox-username:latest

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { echo "test-env: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

TMP=
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT

lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/test-env.lock"
  flock -w 300 9 || die "another test-env.sh holds $STATE_DIR/test-env.lock"
}

# --- images ---------------------------------------------------------------------------------------

need_docker() {
  if ! timeout 20 docker version >/dev/null 2>&1; then
    die "the Docker Engine does not answer (docker version failed); start it with: bash scripts/setup-host.sh"
  fi
}

sha() { sha256sum | cut -c1-64; }

image_label() { # image_label IMAGE: the source hash recorded in IMAGE, or nothing
  docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$1" 2>/dev/null || true
}

build() { # build TAG CONTEXT HASH
  log "building $1"
  local out old new # (the output, with the client's legacy-builder notice, only matters on failure)
  old=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true)
  out=$(DOCKER_BUILDKIT=0 docker build -q --label "$HASH_LABEL=$3" -t "$1" "$2" 2>&1) \
    || { echo "$out" >&2; die "docker build of $1 failed"; }
  new=$(docker image inspect -f '{{.Id}}' "$1")
  # the replaced image, unless a container or another tag still uses it (rmi refuses then)
  if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

ensure_pause() {
  local src=$REPO/images/pause hash ctx
  hash=$( { cat "$src/pause.c" "$src/Dockerfile"; gcc --version | head -n1; } | sha)
  if [ "$(image_label "$PAUSE_IMAGE")" = "$hash" ]; then return; fi
  ctx=$TMP/pause; mkdir -p "$ctx"
  cp "$src/Dockerfile" "$ctx/"
  gcc -static -Os -s -Wall -o "$ctx/pause" "$src/pause.c" || die "compiling images/pause/pause.c failed"
  build "$PAUSE_IMAGE" "$ctx" "$hash"
}

ensure_busybox() {
  local src=$REPO/images/busybox hash ctx
  [ -x /bin/busybox ] || die "/bin/busybox missing (install busybox-static: bash scripts/setup-host.sh)"
  hash=$( { cat "$src/Dockerfile" "$src/mkrootfs.sh" "$src/passwd" "$src/group"; sha256sum </bin/busybox; } | sha)
  if [ "$(image_label "$BUSYBOX_IMAGE")" = "$hash" ]; then return; fi
  ctx=$TMP/busybox; mkdir -p "$ctx"
  cp "$src/Dockerfile" "$ctx/"
  bash "$src/mkrootfs.sh" "$ctx/rootfs.tar" /bin/busybox
  build "$BUSYBOX_IMAGE" "$ctx" "$hash"
}

ensure_variant() { # ensure_variant TAG DIR: an image FROM the busybox image; rebuilt when either changes
  local tag=$1 src=$REPO/images/$2 hash base_id
  base_id=$(docker image inspect -f '{{.Id}}' "$BUSYBOX_IMAGE")
  hash=$( { cat "$src/Dockerfile"; echo "$base_id"; } | sha)
  if [ "$(image_label "$tag")" = "$hash" ]; then return; fi
  build "$tag" "$src" "$hash"
}

# --- registries -----------------------------------------------------------------------------------

v2_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$1/v2/" 2>/dev/null || true; }

pid_alive() { [ -f "$1" ] && alive "$(cat "$1")"; }

write_registry_config() { # write_registry_config NAME ADDR AUTH(0|1)
  local name=$1 addr=$2 auth=$3 conf=$DATA_DIR/registry-$1.yml
  mkdir -p "$DATA_DIR/registry-$name"
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: info"
    echo "  accesslog:"
    echo "    disabled: true"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $DATA_DIR/registry-$name"
    echo "  delete:"
    echo "    enabled: true"
    echo "http:"
    echo "  addr: $addr"
    echo "  headers:"
    echo "    X-Content-Type-Options: [nosniff]"
    if [ "$auth" = 1 ]; then
      echo "auth:"
      echo "  htpasswd:"
      echo "    realm: dockercri-test"
      echo "    path: $DATA_DIR/registry-auth.htpasswd"
    fi
  } >"$conf.tmp"
  mv "$conf.tmp" "$conf"
}

start_registry() { # start_registry NAME ADDR AUTH(0|1)
  local name=$1 addr=$2 auth=$3 want=200 pidfile=$STATE_DIR/registry-$1.pid
  local logfile=/var/log/dockercri-registry-$1.log code pid
  [ "$auth" = 1 ] && want=401
  code=$(v2_code "$addr")
  if [ "$code" = "$want" ]; then
    log "registry $name already answers on $addr"
    return
  fi
  if pid_alive "$pidfile"; then # ours but not answering: replace it
    log "registry $name (pid $(cat "$pidfile")) does not answer; restarting it"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 1
    code=$(v2_code "$addr")
  fi
  if [ "$code" != 000 ]; then
    die "$addr is taken by something that answers /v2/ with HTTP $code (want $want); free that port"
  fi
  write_registry_config "$name" "$addr" "$auth"
  command -v docker-registry >/dev/null || die "docker-registry missing (bash scripts/setup-host.sh)"
  daemonize "$logfile" docker-registry serve "$DATA_DIR/registry-$name.yml"
  pid=$DAEMON_PID
  echo "$pid" >"$pidfile"
  for _ in $(seq 80); do
    [ "$(v2_code "$addr")" = "$want" ] && { log "registry $name started on $addr (pid $pid)"; return; }
    if ! alive "$pid"; then
      rm -f "$pidfile"; tail -n 20 "$logfile" >&2 || true
      die "registry $name exited at startup; see $logfile"
    fi
    sleep 0.25
  done
  tail -n 20 "$logfile" >&2 || true
  die "registry $name did not answer /v2/ on $addr within 20s; see $logfile"
}

ensure_htpasswd() {
  local f=$DATA_DIR/registry-auth.htpasswd
  mkdir -p "$DATA_DIR"
  if [ -f "$f" ] && htpasswd -vb "$f" "$AUTH_USER" "$AUTH_PASSWORD" >/dev/null 2>&1; then return; fi
  htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$f.tmp"
  chmod 0600 "$f.tmp"
  mv "$f.tmp" "$f"
}

# --- pushes ---------------------------------------------------------------------------------------

remote_digest() { # remote_digest REF [USER:PASS]: digest the registry serves for REF, or nothing
  local ref=$1 host repo tag
  host=${ref%%/*}; repo=${ref#*/}; tag=${repo##*:}; repo=${repo%:*}
  curl -s -I --max-time 10 ${2:+-u "$2"} \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$host/v2/$repo/manifests/$tag" 2>/dev/null |
    tr -d '\r' | awk '/^HTTP\//{ok=($2==200)} tolower($1)=="docker-content-digest:"{if(ok)d=$2} END{print d}'
}

PUSHED_TAGS=()
DIGEST=

push() { # push SOURCE REMOTE_REF [USER:PASS]: sets DIGEST; skips the push if the registry has it
  local src=$1 ref=$2 creds=${3:-} id recorded current cfg
  id=$(docker image inspect -f '{{.Id}}' "$src")
  recorded=$(awk -v r="$ref" -v i="$id" '$1==r && $2==i {d=$3} END{print d}' "$PUSH_STATE" 2>/dev/null || true)
  if [ -n "$recorded" ]; then
    current=$(remote_digest "$ref" "$creds")
    if [ "$current" = "$recorded" ]; then DIGEST=$current; return; fi
  fi
  log "pushing $ref"
  docker tag "$src" "$ref"
  PUSHED_TAGS+=("$ref")
  if [ -n "$creds" ]; then
    # a throwaway client config: the login never lands in root's ~/.docker/config.json
    cfg=$(mktemp -d "$TMP/docker-config.XXXXXX")
    printf '%s' "${creds#*:}" | DOCKER_CONFIG=$cfg docker login -u "${creds%%:*}" --password-stdin "${ref%%/*}" >/dev/null 2>&1 \
      || die "docker login to ${ref%%/*} failed"
    DOCKER_CONFIG=$cfg docker push -q "$ref" >/dev/null || { DOCKER_CONFIG=$cfg docker logout "${ref%%/*}" >/dev/null 2>&1 || true; die "docker push $ref failed"; }
    DOCKER_CONFIG=$cfg docker logout "${ref%%/*}" >/dev/null 2>&1 || true
    rm -rf "$cfg"
  else
    docker push -q "$ref" >/dev/null || die "docker push $ref failed"
  fi
  DIGEST=$(remote_digest "$ref" "$creds")
  [ -n "$DIGEST" ] || die "pushed $ref but the registry does not serve its manifest"
  { awk -v r="$ref" '$1!=r' "$PUSH_STATE" 2>/dev/null || true; printf '%s\t%s\t%s\n' "$ref" "$id" "$DIGEST"; } >"$PUSH_STATE.tmp"
  mv "$PUSH_STATE.tmp" "$PUSH_STATE"
}

untag_pushed() {
  local ref
  for ref in ${PUSHED_TAGS[@]+"${PUSHED_TAGS[@]}"}; do
    docker rmi "$ref" >/dev/null 2>&1 || log "warning: could not remove the local tag $ref"
  done
}

# --- commands -------------------------------------------------------------------------------------

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  need_docker
  lock
  mkdir -p "$DATA_DIR"
  TMP=$(mktemp -d /tmp/dockercri-env-build.XXXXXX)

  ensure_pause
  ensure_busybox
  ensure_variant "$BUSYBOX_USER_IMAGE" busybox-user
  ensure_variant "$BUSYBOX_USERNAME_IMAGE" busybox-username

  ensure_htpasswd
  start_registry plain "$PLAIN_ADDR" 0
  start_registry auth "$AUTH_ADDR" 1

  local busybox_digest
  push "$BUSYBOX_IMAGE" "$PLAIN_ADDR/dockercri-test/busybox:latest"; busybox_digest=$DIGEST
  push "$BUSYBOX_IMAGE" "$PLAIN_ADDR/dockercri-test/busybox:v2"
  push "$PAUSE_IMAGE" "$PLAIN_ADDR/dockercri-test/pause:3.10"
  push "$BUSYBOX_IMAGE" "$AUTH_ADDR/private/busybox:latest" "$AUTH_USER:$AUTH_PASSWORD"
  untag_pushed

  printf '{"plainRegistry":"%s","authRegistry":"%s","authUser":"%s","authPassword":"%s","busyboxDigest":"%s","pauseImage":"%s"}\n' \
    "$PLAIN_ADDR" "$AUTH_ADDR" "$AUTH_USER" "$AUTH_PASSWORD" "$busybox_digest" "$PAUSE_IMAGE" >"$ENV_JSON.tmp"
  mv "$ENV_JSON.tmp" "$ENV_JSON"
  log "facts for the tests: $ENV_JSON"
  echo "busybox digest: $PLAIN_ADDR/dockercri-test/busybox:latest@$busybox_digest"
}

stop_registry() { # stop_registry NAME
  local pidfile=$STATE_DIR/registry-$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if alive "$pid" && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do alive "$pid" || break; sleep 0.25; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    log "stopped registry $1 (pid $pid)"
  fi
  rm -f "$pidfile"
}

down() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/test-env.lock"
  flock -w 60 9 || log "warning: $STATE_DIR/test-env.lock is held; stopping the registries anyway"
  stop_registry plain
  stop_registry auth
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
