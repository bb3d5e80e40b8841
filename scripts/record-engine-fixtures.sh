#!/usr/bin/env bash
# Records real answers of an engine started by scripts/engines.sh into test/fixtures/engines/ENGINE/:
# the lab's gitlab container's inspect (running, paused) and wordpress's (exited), /version,
# /info, and the trojan's /proc cgroup and mountinfo, plus the first lines of its log file.
# Usage: scripts/record-engine-fixtures.sh docker26|podman   (starts and stops the engine)
set -euo pipefail
cd "$(dirname "$0")/.."
engine=$1
out=test/fixtures/engines/$engine
mkdir -p "$out"
line=$(scripts/engines.sh start "$engine")
export DOCKER_HOST=${line#DOCKER_HOST=}
sock=${DOCKER_HOST#unix://}
trap 'npx tsx lab/lab.ts down >/dev/null 2>&1 || true; scripts/engines.sh stop "$engine"' EXIT
api() { curl -sf --unix-socket "$sock" "http://engine$1" | python3 -m json.tool --indent 2; }
npx tsx lab/lab.ts up --seconds 120 >"$out/lab.json" 2>/dev/null
pid=$(python3 -c 'import json,sys; print([t["hostPid"] for t in json.load(open(sys.argv[1]))["trojans"] if t["where"]=="container"][0])' "$out/lab.json")
rm "$out/lab.json"
api /version >"$out/version.json"
api /info >"$out/info.json"
api /containers/bk-lab-gitlab/json >"$out/inspect-running.json"
cat "/proc/$pid/cgroup" >"$out/cgroup-container.txt"
grep ' / / \| - overlay ' "/proc/$pid/mountinfo" | head -3 >"$out/mountinfo-root.txt"
# The container's parent on the host (conmon or containerd-shim): a host process.
ppid=$(awk '/^PPid:/{print $2}' "/proc/$(awk '/^PPid:/{print $2}' "/proc/$pid/status")/status")
echo "$(cat "/proc/$ppid/comm")" >"$out/monitor-comm.txt"
cat "/proc/$ppid/cgroup" >"$out/cgroup-monitor.txt"
logpath=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["LogPath"])' "$out/inspect-running.json")
head -n 3 "$logpath" >"$out/log-head.txt"
docker pause bk-lab-gitlab >/dev/null
api /containers/bk-lab-gitlab/json >"$out/inspect-paused.json"
docker unpause bk-lab-gitlab >/dev/null
docker stop -t 1 bk-lab-wordpress >/dev/null
api /containers/bk-lab-wordpress/json >"$out/inspect-exited.json"
echo "recorded $(ls "$out" | wc -l) files in $out" >&2
