package loadtest

import (
	"context"
	"encoding/json"
	"testing"
)

func TestSmoke(t *testing.T) {
	ld, err := Generate(Spec{Workspaces: 2, Spokes: 5, Requests: 10, UnknownRequests: 2, DuplicateRate: 0.1, Reorder: true, DropRate: 0.05, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Load: ld})
	if err != nil {
		t.Fatal(err)
	}
	rep.Samples = nil
	b, _ := json.MarshalIndent(rep, "", " ")
	t.Log(string(b))
}
