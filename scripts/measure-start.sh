#!/usr/bin/env bash
# measure-start.sh [BINARY] [RUNS]: the serve-mode start-up of the handler as
# the Functions host starts it (exec -> first answer on "/", median of RUNS),
# its RSS, and the binary's size. Default: bin/handler of `make build`.
# Run from the repository root. See scripts/measurestart/doc.go.
set -euo pipefail
bin=${1:-bin/handler}
runs=${2:-15}
[ -x "$bin" ] || { echo "measure-start: $bin is not an executable (make build first)" >&2; exit 2; }
go run ./scripts/measurestart -bin "$bin" -n "$runs"
