#!/usr/bin/env bash
# npm run test:engines: the lab's verdicts on every engine (test/integration/engines.test.ts),
# each engine started on its own socket by scripts/engines.sh and stopped by pid afterwards.
#
#   ENGINES="system docker26 podman" (default: all three)
#
# An engine that cannot start fails the run with its error: nothing is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
ENGINES=${ENGINES:-"system docker26 podman"}
npm run --silent build >/dev/null || { echo "test-engines: npm run build failed" >&2; exit 1; }
failed=()
summary=()
for engine in $ENGINES; do
  start=$SECONDS
  if [ "$engine" = system ]; then
    host=${DOCKER_HOST:-unix:///var/run/docker.sock}
    started=no
  else
    if ! line=$(scripts/engines.sh start "$engine"); then
      echo "test-engines: $engine could not start (see above)" >&2
      failed+=("$engine (did not start)")
      continue
    fi
    host=${line#DOCKER_HOST=}
    started=yes
  fi
  echo "=== $engine ($host)" >&2
  DOCKER_HOST="$host" BREACHKIT_TEST_ENGINE="$engine" \
    npx vitest run --project integration --reporter default test/integration/engines.test.ts
  rc=$?
  [ "$started" = yes ] && scripts/engines.sh stop "$engine"
  summary+=("$engine: exit $rc in $((SECONDS - start)) s")
  [ $rc -eq 0 ] || failed+=("$engine")
done
printf 'test-engines: %s\n' "${summary[@]}" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-engines: FAILED on: ${failed[*]}" >&2
  exit 1
fi
