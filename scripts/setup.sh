#!/usr/bin/env bash
# Installs, from Debian, what breachkit and its test suite need, when missing. Idempotent; run
# as root. It starts no daemon: the tests start dockerd themselves when none answers.
set -euo pipefail

PACKAGES=(
  docker.io busybox-static gcc libc6-dev
  clamav clamav-daemon clamdscan rkhunter chkrootkit lynis yara
  iproute2 procps util-linux openssh-client strace
  restic docker-registry chromium openssh-server gdb debsums
  tmux
  debootstrap podman
  docker-compose
  msmtp
  rpm
  ansible-core
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 2
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

log=${BREACHKIT_SETUP_LOG:-/var/log/breachkit-setup.log}
mkdir -p "$(dirname "$log")"
echo "setup: installing ${missing[*]} (log: $log)"

fail() {
  echo "setup: $1; last lines of $log:" >&2
  tail -n 25 "$log" >&2 || true
  exit 1
}

# Package scripts start their services (dockerd, clamd, freshclam) unless a policy forbids it:
# freshclam would try the internet and the daemons would outlive this script. 101 = "not allowed".
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed"
apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" >>"$log" 2>&1 || fail "apt-get install failed"
echo "setup: done"
