#!/bin/sh
# Creates (or removes) the Event Grid subscription that delivers each governed
# subscription's ARM events to the ResourceEvents function.
#
# Runs AFTER the code is deployed: Event Grid validates an Azure Function
# destination when the subscription is created, and refuses a function that
# does not exist yet. azd runs it as the postdeploy hook (azure.yaml); without
# azd, run it after `az deployment sub create` and the code deployment, with
# the deployment's outputs exported (docs/deploy.md).
#
# Per governed subscription it:
#   1. uses the subscription's Event Grid system topic: the one named in
#      AUTOPILOT_SYSTEM_TOPIC_IDS, else the existing one (Azure allows one
#      system topic per source, and Defender or other automation may own it),
#      else creates one in AUTOPILOT_EVENTS_RESOURCE_GROUP (default
#      rg-autopilot-events, outside any azd environment, so that `azd down`
#      of one environment does not delete another's events);
#   2. adds the dead-letter identity (AUTOPILOT_DEADLETTER_IDENTITY_ID, a
#      user-assigned identity allowed to write the dead-letter container) to
#      the topic, keeping the identities it already has;
#   3. PUTs the event subscription autopilot-$AZURE_ENV_NAME: write and delete
#      successes filtered on data.operationName (infra/generated/event-
#      operations.json), CloudEvents schema, dead-lettered with the topic's
#      identity (deadLetterWithResourceIdentity).
# Every step is idempotent: a rerun finds the topic and identity in place and
# PUTs the same event subscription again. Several environments can share a
# subscription: each has its own event subscription on the one topic.
#
#   scripts/postdeploy-eventgrid.sh            create or update
#   scripts/postdeploy-eventgrid.sh --remove   delete this environment's event
#                                              subscriptions (never a topic)
#
# Needs: the Azure CLI (az), logged in with rights to read and write system
# topics and event subscriptions in the governed subscriptions and to assign
# the dead-letter identity (Managed Identity Operator on it, or Owner/
# Contributor). Works with any POSIX sh (Linux, macOS).
set -eu

EG_API=2025-02-15
RG_API=2024-03-01
prog=postdeploy-eventgrid

usage() {
	sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
}

fail() {
	echo "$prog: $*" >&2
	exit 2
}

mode=create
case "${1:-}" in
"" | --create) ;;
--remove) mode=remove ;;
-h | --help)
	usage
	exit 0
	;;
*) fail "unknown argument '$1' (use --remove, or no argument to create)" ;;
esac

need() {
	eval "v=\${$1:-}"
	[ -n "$v" ] || fail "$1 is not set: $2"
}
need AZURE_ENV_NAME "the azd environment name (azd sets it)"
need AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS "comma-separated subscription ids (an output of infra/main.bicep)"
if [ "$mode" = create ]; then
	need AZURE_LOCATION "the region of a resource group created for a new system topic"
	need AUTOPILOT_EVENT_FUNCTION_ID "resource id of the ResourceEvents function (an output of infra/main.bicep)"
	need AUTOPILOT_DEADLETTER_STORAGE_ID "resource id of the dead-letter storage account (an output of infra/main.bicep)"
	need AUTOPILOT_DEADLETTER_CONTAINER "the dead-letter blob container (an output of infra/main.bicep)"
	need AUTOPILOT_DEADLETTER_IDENTITY_ID "resource id of the dead-letter identity (an output of infra/main.bicep)"
fi
command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is not on PATH: https://learn.microsoft.com/cli/azure/install-azure-cli"

here=$(cd "$(dirname "$0")" && pwd)
ops_file="$here/../infra/generated/event-operations.json"
[ -r "$ops_file" ] || fail "cannot read $ops_file (infra/generated/event-operations.json)"

case "$AZURE_ENV_NAME" in
*[!A-Za-z0-9-]* | "") fail "AZURE_ENV_NAME '$AZURE_ENV_NAME' may hold only letters, digits and hyphens (it names the event subscription)" ;;
esac
es_name="autopilot-$AZURE_ENV_NAME"
events_rg=${AUTOPILOT_EVENTS_RESOURCE_GROUP:-rg-autopilot-events}
topic_name=${AUTOPILOT_SYSTEM_TOPIC_NAME:-autopilot-subscription-events}
poll_seconds=${AUTOPILOT_HOOK_POLL_SECONDS:-5}
poll_tries=${AUTOPILOT_HOOK_POLL_TRIES:-60}
endpoint_tries=${AUTOPILOT_HOOK_ENDPOINT_TRIES:-12}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$prog.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

lower() { printf '%s' "$1" | tr 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' 'abcdefghijklmnopqrstuvwxyz'; }

# query URL JMESPATH: prints the tsv result; returns 3 when the resource does
# not exist; stops the script on any other error.
query() {
	if az rest --method get --url "$1" --query "$2" --output tsv >"$tmp/out" 2>"$tmp/err"; then
		cat "$tmp/out"
		return 0
	fi
	if grep -Eqi 'not ?found' "$tmp/err"; then
		return 3
	fi
	echo "$prog: GET $1 failed:" >&2
	cat "$tmp/err" >&2
	exit 1
}

# write METHOD URL [BODYFILE]
write() {
	if [ $# -ge 3 ]; then
		az rest --method "$1" --url "$2" --body "@$3" --output none 2>"$tmp/err" && return 0
	else
		az rest --method "$1" --url "$2" --output none 2>"$tmp/err" && return 0
	fi
	echo "$prog: $1 $2 failed:" >&2
	cat "$tmp/err" >&2
	exit 1
}

# wait_succeeded URL WHAT: until provisioningState is Succeeded.
wait_succeeded() {
	i=0
	while :; do
		state=$(query "$1" properties.provisioningState) || state=NotFound
		case "$state" in
		Succeeded) return 0 ;;
		Failed | Canceled | NotFound) fail "$2 ended in state $state ($1)" ;;
		esac
		i=$((i + 1))
		[ "$i" -lt "$poll_tries" ] || fail "$2 still $state after $poll_tries polls ($1)"
		sleep "$poll_seconds"
	done
}

# given_topic SUB: the topic id given for SUB in AUTOPILOT_SYSTEM_TOPIC_IDS.
given_topic() {
	want=$(lower "/subscriptions/$1/")
	old_ifs=$IFS
	IFS=,
	for t in ${AUTOPILOT_SYSTEM_TOPIC_IDS:-}; do
		t=$(echo "$t" | tr -d ' ')
		case "$(lower "$t")" in
		"$want"*/providers/microsoft.eventgrid/systemtopics/*)
			IFS=$old_ifs
			echo "$t"
			return 0
			;;
		"") ;;
		*/providers/microsoft.eventgrid/systemtopics/*) ;;
		*) fail "AUTOPILOT_SYSTEM_TOPIC_IDS: '$t' is not a system topic resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.EventGrid/systemTopics/<name>)" ;;
		esac
	done
	IFS=$old_ifs
	return 1
}

# find_topic SUB: the subscription's system topic id, or nothing.
find_topic() {
	if given_topic "$1"; then
		return 0
	fi
	found=$(query "/subscriptions/$1/providers/Microsoft.EventGrid/systemTopics?api-version=$EG_API" \
		"value[?properties.topicType=='Microsoft.Resources.Subscriptions'].id") || exit 1
	echo "$found" | head -n 1
}

create_topic() { # SUB -> topic id
	rg_url="/subscriptions/$1/resourceGroups/$events_rg?api-version=$RG_API"
	if ! query "$rg_url" name >/dev/null; then
		printf '{"location": "%s", "tags": {"application": "privatelink-autopilot"}}\n' "$AZURE_LOCATION" >"$tmp/rg.json"
		echo "$prog: creating resource group $events_rg in subscription $1" >&2
		write put "$rg_url" "$tmp/rg.json"
	fi
	topic="/subscriptions/$1/resourceGroups/$events_rg/providers/Microsoft.EventGrid/systemTopics/$topic_name"
	cat >"$tmp/topic.json" <<EOF
{
  "location": "global",
  "tags": {"application": "privatelink-autopilot"},
  "identity": {
    "type": "UserAssigned",
    "userAssignedIdentities": {"$AUTOPILOT_DEADLETTER_IDENTITY_ID": {}}
  },
  "properties": {
    "source": "/subscriptions/$1",
    "topicType": "Microsoft.Resources.Subscriptions"
  }
}
EOF
	echo "$prog: creating system topic $topic" >&2
	write put "$topic?api-version=$EG_API" "$tmp/topic.json"
	wait_succeeded "$topic?api-version=$EG_API" "system topic $topic"
	echo "$topic"
}

# ensure_identity TOPIC: the dead-letter identity is on the topic, next to
# the identities it already has.
ensure_identity() {
	url="$1?api-version=$EG_API"
	ids=$(query "$url" 'keys(identity.userAssignedIdentities || `{}`)')
	want=$(lower "$AUTOPILOT_DEADLETTER_IDENTITY_ID")
	entries="\"$AUTOPILOT_DEADLETTER_IDENTITY_ID\": {}"
	for id in $ids; do
		if [ "$(lower "$id")" = "$want" ]; then
			return 0
		fi
		entries="$entries, \"$id\": {}"
	done
	type=$(query "$url" identity.type)
	case "$type" in
	*SystemAssigned*) type="SystemAssigned, UserAssigned" ;;
	*) type=UserAssigned ;;
	esac
	printf '{"identity": {"type": "%s", "userAssignedIdentities": {%s}}}\n' "$type" "$entries" >"$tmp/identity.json"
	echo "$prog: adding the dead-letter identity to system topic $1 (its identities are kept)" >&2
	write patch "$url" "$tmp/identity.json"
	wait_succeeded "$url" "identity update of system topic $1"
}

put_event_subscription() { # TOPIC
	url="$1/eventSubscriptions/$es_name?api-version=$EG_API"
	{
		cat <<EOF
{
  "properties": {
    "eventDeliverySchema": "CloudEventSchemaV1_0",
    "destination": {
      "endpointType": "AzureFunction",
      "properties": {
        "resourceId": "$AUTOPILOT_EVENT_FUNCTION_ID",
        "maxEventsPerBatch": 1
      }
    },
    "filter": {
      "includedEventTypes": [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess"
      ],
      "advancedFilters": [
        {
          "operatorType": "StringIn",
          "key": "data.operationName",
          "values":
EOF
		cat "$ops_file"
		cat <<EOF
        }
      ]
    },
    "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
    "deadLetterWithResourceIdentity": {
      "identity": {
        "type": "UserAssigned",
        "userAssignedIdentity": "$AUTOPILOT_DEADLETTER_IDENTITY_ID"
      },
      "deadLetterDestination": {
        "endpointType": "StorageBlob",
        "properties": {
          "resourceId": "$AUTOPILOT_DEADLETTER_STORAGE_ID",
          "blobContainerName": "$AUTOPILOT_DEADLETTER_CONTAINER"
        }
      }
    }
  }
}
EOF
	} >"$tmp/es.json"
	echo "$prog: event subscription $es_name on $1" >&2
	# Right after a deployment the function may not be listed yet: Event
	# Grid then answers "Destination endpoint not found". Retry that (only
	# that) for a while before giving up.
	n=0
	until az rest --method put --url "$url" --body "@$tmp/es.json" --output none 2>"$tmp/err"; do
		n=$((n + 1))
		if grep -qi 'endpoint not found' "$tmp/err" && [ "$n" -lt "$endpoint_tries" ]; then
			echo "$prog: the function is not visible to Event Grid yet; retrying in ${poll_seconds}s ($n/$endpoint_tries)" >&2
			sleep "$poll_seconds"
			continue
		fi
		echo "$prog: put $url failed:" >&2
		cat "$tmp/err" >&2
		[ "$n" -lt "$endpoint_tries" ] || echo "$prog: is the code deployed? The event subscription must be made after it (azd: postdeploy)." >&2
		exit 1
	done
	wait_succeeded "$url" "event subscription $es_name"
}

# retire_bicep_subscription TOPIC: earlier versions made the topic
# evgst-autopilot-$AZURE_ENV_NAME in Bicep with the event subscription
# autopilot-resource-events (key-based dead-lettering). The hook reuses that
# topic; the old subscription would deliver every event twice, so it goes once
# the new one exists. Nothing else of that name is touched.
retire_bicep_subscription() {
	case "$(lower "$1")" in
	*/providers/microsoft.eventgrid/systemtopics/"$(lower "evgst-autopilot-$AZURE_ENV_NAME")") ;;
	*) return 0 ;;
	esac
	url="$1/eventSubscriptions/autopilot-resource-events?api-version=$EG_API"
	if query "$url" name >/dev/null; then
		echo "$prog: deleting autopilot-resource-events on $1 (made by an earlier version; replaced by $es_name)" >&2
		write delete "$url"
	fi
}

subs=$(echo "$AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS" | tr ',' ' ')
[ -n "$(echo "$subs" | tr -d ' ')" ] || fail "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS is empty"
for sub in $subs; do
	case "$sub" in
	????????-????-????-????-????????????) ;;
	*) fail "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS: '$sub' is not a subscription id (a GUID)" ;;
	esac
	case "$sub" in *[!0-9A-Fa-f-]*) fail "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS: '$sub' is not a subscription id (a GUID)" ;; esac
done

for sub in $subs; do
	topic=$(find_topic "$sub") || exit $?
	if [ "$mode" = remove ]; then
		if [ -z "$topic" ]; then
			echo "$prog: subscription $sub has no system topic: nothing to remove" >&2
			continue
		fi
		url="$topic/eventSubscriptions/$es_name?api-version=$EG_API"
		if query "$url" name >/dev/null; then
			echo "$prog: deleting event subscription $es_name on $topic (the topic stays)" >&2
			write delete "$url"
		else
			echo "$prog: no event subscription $es_name on $topic" >&2
		fi
		continue
	fi
	if [ -z "$topic" ]; then
		topic=$(create_topic "$sub") || exit $?
	else
		echo "$prog: subscription $sub: using system topic $topic" >&2
	fi
	ensure_identity "$topic"
	put_event_subscription "$topic"
	retire_bicep_subscription "$topic"
done
echo "$prog: done ($mode, $(echo "$subs" | wc -w | tr -d ' ') subscription(s))" >&2
