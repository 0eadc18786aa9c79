#!/usr/bin/env bash
# `make test`'s pytest, in three lanes at once on this 2-core machine. The operations tests (the launcher as
# `make run` starts it; НУЦ down a minute while ГБД ФЛ is down two) spend most of their minutes waiting out
# outages, on a mesh, broker, ports and var/ of their own: they run beside the rest of the suite. So does
# `make test-compose` (deploy/docker-compose.yml for real under podman: minutes of image builds and container
# start-ups, on ports, volumes and a podman socket of its own). The main lane's output comes first, then each
# side lane's; any lane failing (or collecting nothing) fails the run.
# Arguments go to the main lane's pytest; PYTEST_ADDOPTS reaches every lane.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# The side lane: the operations tests and the load test (a batch on SQLite and on PostgreSQL with ИС МИО killed
# twice: three minutes of one mesh each, mostly waiting out restarts), the settle's races (ten cases applied and
# settled, four at once), the thirty clock changes (a mesh of its own), and what waits on other things than the
# CPU or starts a mesh or server of its own: the AsyncAPI check (npm installs @asyncapi/cli, ~2 min), the pytest
# plugin (a mesh it starts), a broker killed and restarted, the mesh on PostgreSQL — the two lanes then take about
# as long (15 and 14 min of a 2-core machine shared with the compose lane).
SIDE="tests/e2e/test_operations.py tests/e2e/test_load.py tests/e2e/test_settle.py tests/e2e/test_clock_jumps.py
 tests/deploy/test_asyncapi_validates.py tests/e2e/test_pytest_plugin.py tests/e2e/test_broker_restart.py
 tests/e2e/test_postgres.py"
COMPOSE=tests/deploy/test_compose_run.py
log=$(mktemp)
compose_log=$(mktemp)
# shellcheck disable=SC2086  # two paths, split on purpose
"$PY" -m pytest $SIDE >"$log" 2>&1 &
side=$!
compose_start=$(date +%s)
# Its own session (setsid): stopping the lane stops make, pytest and the podman service it started, together.
# Niced, with its containers: the main lane's timing-sensitive use cases keep the CPU they need.
setsid nice -n 10 make --no-print-directory test-compose PY="$PY" >"$compose_log" 2>&1 &
compose=$!
trap 'kill -TERM "$side" 2>/dev/null; kill -TERM -- -"$compose" 2>/dev/null; wait; rm -f "$log" "$compose_log"; exit 130' INT TERM
ignored=()
for path in $SIDE "$COMPOSE"; do ignored+=("--ignore=$path"); done
"$PY" -m pytest "${ignored[@]}" "$@"
main_rc=$?
wait "$side"
side_rc=$?
wait "$compose"
compose_rc=$?
compose_minutes=$(( ($(date +%s) - compose_start + 30) / 60 ))
echo
echo "======================= side lane: $SIDE (rc=$side_rc) ======================="
cat "$log"
echo
echo "======================= side lane: make test-compose (rc=$compose_rc, ~${compose_minutes} min) ======================="
cat "$compose_log"
rm -f "$log" "$compose_log"
echo "main lane rc=$main_rc, side lane rc=$side_rc, compose lane rc=$compose_rc"
[ "$main_rc" -eq 0 ] && [ "$side_rc" -eq 0 ] && [ "$compose_rc" -eq 0 ]
