package infra

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
)

// The ARM actions the adapters perform and the operations the classifier
// handles live once, in Go (pkg/azure.Actions, pkg/events.HandledOperations).
// The Bicep files load them from generated/*.json; these tests fail when the
// files drift from the code. Refresh with: go test ./infra -update
var update = flag.Bool("update", false, "rewrite infra/generated from the Go lists")

func checkGenerated(t *testing.T, file string, want []string) {
	t.Helper()
	path := filepath.Join("generated", file)
	if *update {
		data, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./infra -update)", err)
	}
	var got []string
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s differs from the Go list (-go +file); run: go test ./infra -update\n%s", path, diff)
	}
}

func TestRoleGrantsExactlyTheActionsTheCodePerforms(t *testing.T) {
	if len(azure.Actions) == 0 {
		t.Fatal("pkg/azure.Actions is empty")
	}
	checkGenerated(t, "arm-actions.json", azure.Actions)
	for _, a := range azure.Actions {
		if a == "*" || filepath.Base(a) == "*" {
			t.Errorf("action %q is a wildcard: the roles must list exact actions", a)
		}
	}
	// Each action goes to exactly one role, by the scope ARM checks it at.
	split := map[roleKey][]string{}
	for _, a := range azure.Actions {
		split[scopeOfAction(a)] = append(split[scopeOfAction(a)], a)
	}
	for _, k := range roleKeys {
		if len(split[k]) == 0 {
			t.Errorf("no action of pkg/azure.Actions goes to the %s role", k)
		}
		checkGenerated(t, roleFiles[k], split[k])
	}
}

func TestDNSZoneDefaultsAreTheTableZones(t *testing.T) {
	var zones []string
	for _, z := range core.AllPrivateDNSZones() {
		zones = append(zones, z.Zone)
	}
	checkGenerated(t, "private-dns-zones.json", zones)
	main := readBicep(t, "main.bicep")
	if !slices.Contains(main.loadRefs, "generated/private-dns-zones.json") {
		t.Error("main.bicep does not take its default zones from generated/private-dns-zones.json")
	}
}

func TestEventFilterListsExactlyTheClassifiedOperations(t *testing.T) {
	ops := events.HandledOperations
	if len(ops) == 0 || len(ops) > 25 {
		t.Fatalf("events.HandledOperations has %d values; Event Grid's StringIn allows 1 to 25", len(ops))
	}
	checkGenerated(t, "event-operations.json", ops)
	// The event subscription is made by the post-deploy hook, which sends
	// the generated file as the filter's values (hook_test.go checks the
	// body it PUTs).
	hook, err := os.ReadFile(hookScript)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(string(hook), "infra/generated/event-operations.json") {
		t.Errorf("%s does not read infra/generated/event-operations.json", hookScript)
	}
	// Every handled operation must come from an event type the subscription
	// includes: they are all write or delete operations.
	for _, op := range ops {
		if base := filepath.Base(op); base != "write" && base != "delete" {
			t.Errorf("operation %q is neither a write nor a delete, but the subscription includes only ResourceWriteSuccess and ResourceDeleteSuccess", op)
		}
	}
}
