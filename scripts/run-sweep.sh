#!/usr/bin/env bash
# Trigger the Sweep function of a running `func start` (admin endpoint).
set -euo pipefail
base=${BASE:-http://localhost:7071}
curl -sS -X POST "$base/admin/functions/Sweep" -H 'Content-Type: application/json' --data '{"input": ""}' \
  -w 'HTTP %{http_code}\n'
