#!/usr/bin/env bash
# `make test`'s pytest, in two lanes at once on this 2-core machine. The operations tests (the launcher as
# `make run` starts it; НУЦ down a minute while ГБД ФЛ is down two) spend most of their minutes waiting out
# outages, on a mesh, broker, ports and var/ of their own: they run beside the rest of the suite. The main lane's
# output comes first, then the side lane's; either lane failing (or collecting nothing) fails the run.
# Arguments go to the main lane's pytest; PYTEST_ADDOPTS reaches both.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SIDE=tests/e2e/test_operations.py
log=$(mktemp)
"$PY" -m pytest "$SIDE" >"$log" 2>&1 &
side=$!
trap 'kill -TERM "$side" 2>/dev/null; rm -f "$log"' INT TERM
"$PY" -m pytest --ignore="$SIDE" "$@"
main_rc=$?
wait "$side"
side_rc=$?
echo
echo "======================= side lane: $SIDE (rc=$side_rc) ======================="
cat "$log"
rm -f "$log"
echo "main lane rc=$main_rc, side lane rc=$side_rc"
[ "$main_rc" -eq 0 ] && [ "$side_rc" -eq 0 ]
