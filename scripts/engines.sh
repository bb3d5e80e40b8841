#!/usr/bin/env bash
# The container engines breachkit is tested against, besides the system dockerd:
#
#   docker26  Debian 13's docker.io (Engine 26) with the containerd image store
#             ("features": {"containerd-snapshotter": true}), run from a Debian 13 root made
#             with debootstrap (cached), in a private mount namespace, on its own socket, data
#             root, exec root and pidfile; no iptables, no bridge (the lab runs --network none).
#   podman    Debian's podman (`podman system service`) on its own socket, storage root and
#             run root, cgroupfs manager.
#
# Usage: scripts/engines.sh prepare            build the Debian 13 root once (minutes)
#        scripts/engines.sh start ENGINE       start it; prints DOCKER_HOST=unix://... on stdout
#        scripts/engines.sh stop ENGINE        stop it by its recorded pid (idempotent)
#        scripts/engines.sh host ENGINE        print its DOCKER_HOST value
#
# Never touches /var/run/docker.sock, /var/lib/docker, /run/containerd or the system dockerd.
# Daemons log to files under their run directory; they are stopped by pid, never by name.
set -euo pipefail

CACHE=${BREACHKIT_ENGINES_CACHE:-/var/cache/breachkit-engines}
ROOT="$CACHE/trixie"
LIB=/var/lib/breachkit-engines
RUN=/run/breachkit-engines
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
START_TIMEOUT=${ENGINE_START_TIMEOUT:-90}

die() { echo "engines.sh: $*" >&2; exit 2; }

socket_of() {
  case "$1" in
    docker26) echo "$RUN/docker26/docker.sock" ;;
    podman) echo "$RUN/podman/podman.sock" ;;
    *) die "unknown engine: $1 (docker26 or podman)" ;;
  esac
}

prepare() {
  if [ -x "$ROOT/usr/sbin/dockerd" ]; then return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh installs it)"
  mkdir -p "$CACHE"
  rm -rf "$ROOT.tmp"
  local start=$SECONDS
  echo "engines.sh: debootstrap trixie into $ROOT (several minutes; log $CACHE/debootstrap.log)" >&2
  if ! debootstrap --variant=minbase --include=docker.io,containerd,runc,iptables,ca-certificates \
    trixie "$ROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
    tail -5 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  mv "$ROOT.tmp" "$ROOT"
  echo "engines.sh: Debian 13 root ready in $((SECONDS - start)) s" >&2
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# The pid file holds "<pid> <starttime>": a recycled pid is never signalled.
pid_of() {
  local file="$1" pid start now
  [ -f "$file" ] || return 1
  read -r pid start <"$file" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  now=$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$now" = "$start" ] || return 1
  echo "$pid"
}

record_pid() { echo "$1 $(awk '{print $22}' "/proc/$1/stat")" >"$2"; }

wait_answer() {
  local sock="$1" pid="$2" log="$3" i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    if [ -S "$sock" ] && curl -sf --max-time 5 --unix-socket "$sock" http://engine/_ping >/dev/null 2>&1; then
      return 0
    fi
    alive "$pid" || { tail -20 "$log" >&2; die "the engine exited during start (log: $log)"; }
    sleep 0.5
  done
  tail -20 "$log" >&2
  die "the engine did not answer on $sock within $START_TIMEOUT s (log: $log)"
}

start_docker26() {
  prepare
  local run="$RUN/docker26" data="$LIB/docker26"
  mkdir -p "$run" "$data"
  if pid=$(pid_of "$run/engine.pid"); then echo "DOCKER_HOST=unix://$run/docker.sock"; return 0; fi
  cat >"$run/daemon.json" <<'EOF'
{
  "features": { "containerd-snapshotter": true },
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "none",
  "log-driver": "json-file"
}
EOF
  local log="$run/dockerd.log"
  # A private mount namespace whose root is the Debian 13 root (pivot_root): the binds below
  # (and every mount the engine makes) vanish with it. The data and run directories are bound at the same path inside the Debian 13 root, so
  # the paths the engine reports (LogPath, the overlay's upperdir in /proc/<pid>/mountinfo)
  # are valid on the host too. pivot_root, not chroot: with the host root left at the top of
  # this namespace, paths in the containers would read through it (/proc/<pid>/exe of a
  # container process showing $ROOT/tmp/wate instead of /tmp/wate).
  setsid unshare --mount --propagation private -- /bin/sh -c '
    set -e
    root="$1"; data="$2"; run="$3"
    # The root must be a mount point: the engine remounts "/" (MS_SLAVE|MS_REC) in the
    # mount namespace of `docker cp`, which fails with EINVAL on a plain directory.
    mount --bind "$root" "$root"
    mount --rbind /proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root$data" "$root$run" "$root/tmp"
    mount --bind "$data" "$root$data"
    mount --bind "$run" "$root$run"
    # pivot_root, not chroot (see above); the old root is detached at once.
    cd "$root"
    mkdir -p .host-root
    pivot_root . .host-root
    exec /bin/sh -c '"'"'umount -l /.host-root && exec "$@"'"'"' sh \
      /usr/sbin/dockerd \
      --config-file "$run/daemon.json" \
      --host "unix://$run/docker.sock" \
      --data-root "$data" \
      --exec-root "$run/exec" \
      --pidfile "$run/dockerd.pid"
  ' sh "$ROOT" "$data" "$run" </dev/null >"$log" 2>&1 &
  local pid=$!
  record_pid "$pid" "$run/engine.pid"
  wait_answer "$run/docker.sock" "$pid" "$log"
  echo "DOCKER_HOST=unix://$run/docker.sock"
}

start_podman() {
  command -v podman >/dev/null || die "podman is missing (scripts/setup.sh installs it)"
  local run="$RUN/podman" data="$LIB/podman"
  mkdir -p "$run" "$data/net"
  if pid=$(pid_of "$run/engine.pid"); then echo "DOCKER_HOST=unix://$run/podman.sock"; return 0; fi
  # Podman sets RLIMIT_NOFILE and RLIMIT_NPROC of every container to 1048576 unless told; a
  # host without CAP_SYS_RESOURCE (this one) cannot raise a hard limit, and runc then fails
  # with "error setting rlimit type 7: operation not permitted".
  cat >"$run/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
EOF
  local log="$run/service.log"
  CONTAINERS_CONF="$run/containers.conf" setsid podman \
    --root "$data/storage" --runroot "$run/run" --tmpdir "$run/tmp" \
    --network-config-dir "$data/net" --cgroup-manager cgroupfs --events-backend file \
    system service --time 0 "unix://$run/podman.sock" </dev/null >"$log" 2>&1 &
  local pid=$!
  record_pid "$pid" "$run/engine.pid"
  wait_answer "$run/podman.sock" "$pid" "$log"
  echo "DOCKER_HOST=unix://$run/podman.sock"
}

stop_engine() {
  local name="$1" run="$RUN/$1" pid i
  socket_of "$name" >/dev/null
  if ! pid=$(pid_of "$run/engine.pid"); then
    rm -f "$run/engine.pid"
    unmount_leftovers "$name"
    return 0
  fi
  kill -TERM "$pid"
  for ((i = 0; i < 60 && 1; i++)); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then
    echo "engines.sh: $name (pid $pid) did not stop in 30 s: SIGKILL" >&2
    kill -KILL "$pid" || true
  fi
  rm -f "$run/engine.pid"
  unmount_leftovers "$name"
}

# containers/storage bind-mounts its overlay directory on itself (private) and leaves it behind
# when the service ends: unmount it, unless a container still uses it (then say so). docker26's
# mounts all live in its own mount namespace and vanish with it.
unmount_leftovers() {
  local overlay="$LIB/podman/storage/overlay"
  if [ "$1" = podman ] && mountpoint -q "$overlay"; then
    umount "$overlay" || echo "engines.sh: $overlay stays mounted (a podman container still runs?)" >&2
  fi
}

cmd=${1:-}
case "$cmd" in
  prepare) prepare ;;
  start)
    [ $# -eq 2 ] || die "usage: engines.sh start docker26|podman"
    socket_of "$2" >/dev/null
    "start_$2"
    ;;
  stop)
    [ $# -eq 2 ] || die "usage: engines.sh stop docker26|podman"
    stop_engine "$2"
    ;;
  host)
    [ $# -eq 2 ] || die "usage: engines.sh host docker26|podman"
    echo "unix://$(socket_of "$2")"
    ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
