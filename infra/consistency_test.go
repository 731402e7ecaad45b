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
			t.Errorf("action %q is a wildcard: the role must list exact actions", a)
		}
	}
	// The role definition must take its actions from the generated file and
	// nothing else.
	role := readBicep(t, "modules/role-definition.bicep")
	if !slices.Contains(role.loadRefs, "../generated/arm-actions.json") {
		t.Error("modules/role-definition.bicep does not load ../generated/arm-actions.json")
	}
	if n := len(actionsRe.FindAllString(role.text, -1)); n != 1 {
		t.Errorf("modules/role-definition.bicep has %d `actions:` entries, want exactly one (from the generated file)", n)
	}
}

func TestEventFilterListsExactlyTheClassifiedOperations(t *testing.T) {
	ops := events.HandledOperations
	if len(ops) == 0 || len(ops) > 25 {
		t.Fatalf("events.HandledOperations has %d values; Event Grid's StringIn allows 1 to 25", len(ops))
	}
	checkGenerated(t, "event-operations.json", ops)
	topic := readBicep(t, "modules/system-topic.bicep")
	if !contains(topic.text, "key: 'data.operationName'") || !contains(topic.text, "values: operations") {
		t.Error("modules/system-topic.bicep does not filter data.operationName on the operations parameter")
	}
	gov := readBicep(t, "modules/governed-subscription.bicep")
	if !slices.Contains(gov.loadRefs, "../generated/event-operations.json") {
		t.Error("modules/governed-subscription.bicep does not load ../generated/event-operations.json")
	}
	// Every handled operation must come from an event type the subscription
	// includes: they are all write or delete operations.
	for _, op := range ops {
		if base := filepath.Base(op); base != "write" && base != "delete" {
			t.Errorf("operation %q is neither a write nor a delete, but the subscription includes only ResourceWriteSuccess and ResourceDeleteSuccess", op)
		}
	}
}
