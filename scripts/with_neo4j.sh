#!/usr/bin/env bash
# Run a command with the local Neo4j server up: start it (unless NEO4J_URI already answers), run, then stop it
# (only if this script started it), whatever the command's exit status.
set -uo pipefail
BIN="${BIN:-.venv/bin}"
started=0
if ! "$BIN/dallm" neo4j status | grep -q "answers    True"; then
  "$BIN/dallm" neo4j start || exit 1
  started=1
fi
export DALLM_REQUIRE_NEO4J=1   # tests that need Neo4j fail (not skip) when it is missing
"$@"; rc=$?
if [ "$started" = 1 ]; then "$BIN/dallm" neo4j stop; fi
exit $rc
