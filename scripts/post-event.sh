#!/usr/bin/env bash
# Post sample ARM events to a running app's Event Grid endpoint.
#   under func start (default):  scripts/post-event.sh testdata/events/endpoint-write.eventgrid.json
#   under handler local:         URL=http://127.0.0.1:8080/api/events scripts/post-event.sh FILE...
# Each file holds one event or an array of events (Event Grid schema or CloudEvents).
set -euo pipefail
url=${URL:-http://localhost:7071/runtime/webhooks/EventGrid?functionName=ResourceEvents}
[ $# -gt 0 ] || { echo "usage: $0 EVENT_FILE..." >&2; exit 2; }
for f in "$@"; do
  [ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 2; }
  body=$(cat "$f")
  # the Functions host's Event Grid endpoint wants an array
  case "$body" in \[*) ;; *) body="[$body]";; esac
  out=$(mktemp)
  code=$(curl -sS -o "$out" -w '%{http_code}' -X POST "$url" \
    -H 'Content-Type: application/json' -H 'aeg-event-type: Notification' --data-binary "$body")
  echo "$f -> HTTP $code $(cat "$out")"
  rm -f "$out"
done
