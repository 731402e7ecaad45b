package replay

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/replay")

const root = "../../../"

func loadPolicy(t *testing.T, audit bool) *policy.Policy {
	t.Helper()
	raw, err := os.ReadFile(root + "examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if audit {
		raw = []byte(strings.Replace(string(raw), "\nmode: enforce", "\nmode: audit", 1))
	}
	p, err := policy.Parse("examples/policy.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadSandbox(t *testing.T, opts ...sandbox.Option) *sandbox.Sandbox {
	t.Helper()
	opts = append([]sandbox.Option{sandbox.WithoutThrottling()}, opts...)
	sb, err := sandbox.Load(root+"testdata/replay/world.json", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func deliveries(t *testing.T, names ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(root + "testdata/events/" + n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// finalState summarises the sandbox: connection statuses, links, zone groups.
func finalState(t *testing.T, sb *sandbox.Sandbox) []string {
	t.Helper()
	var out []string
	for _, raw := range sb.Snapshot() {
		var r struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Tags       map[string]string
			Properties struct {
				Conns []struct {
					Name       string `json:"name"`
					Properties struct {
						State struct {
							Status string `json:"status"`
						} `json:"privateLinkServiceConnectionState"`
					} `json:"properties"`
				} `json:"privateEndpointConnections"`
				State struct {
					Status string `json:"status"`
				} `json:"privateLinkServiceConnectionState"`
				VNet struct {
					ID string `json:"id"`
				} `json:"virtualNetwork"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		typ := strings.ToLower(r.Type)
		switch {
		case strings.HasSuffix(typ, "healthcareapis/workspaces"):
			for _, c := range r.Properties.Conns {
				out = append(out, "connection "+strings.SplitN(c.Name, ".", 2)[0]+" "+c.Properties.State.Status)
			}
		case strings.HasSuffix(typ, "workspaces/privateendpointconnections"):
			parts := strings.Split(r.ID, "/")
			out = append(out, "connection "+strings.SplitN(parts[len(parts)-1], ".", 2)[0]+" "+r.Properties.State.Status)
		case strings.HasSuffix(typ, "virtualnetworklinks"):
			parts := strings.Split(r.Properties.VNet.ID, "/")
			out = append(out, "link "+parts[len(parts)-1]+" managed-by="+r.Tags["managed-by"])
		case strings.HasSuffix(typ, "privatednszonegroups"):
			out = append(out, "zonegroup "+strings.Split(r.ID, "/")[8])
		}
	}
	sort.Strings(out)
	return out
}

type golden struct {
	Lines   []Line   `json:"lines"`
	Summary Summary  `json:"summary"`
	Final   []string `json:"final"`
}

func checkGolden(t *testing.T, name string, got golden) {
	t.Helper()
	path := filepath.Join(root, "testdata/replay", name+".golden.json")
	b, _ := json.MarshalIndent(got, "", "  ")
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing (run go test ./pkg/reconcile/replay -update): %v", err)
	}
	var w golden
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, w); diff != "" {
		t.Errorf("replay differs from %s (-got +want):\n%s", path, diff)
	}
}

func run(t *testing.T, sb *sandbox.Sandbox, p *policy.Policy, sweep bool, d [][]byte) Report {
	t.Helper()
	rep, err := Run(context.Background(), Options{Sandbox: sb, Policy: p, Deliveries: d, Sweep: sweep,
		Dir: t.TempDir(), Log: zerolog.Nop(), Start: time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		sweep  bool
		audit  bool
		opts   []sandbox.Option
		ok     bool
	}{
		{name: "approve-allowed-link-peers-reject-unknown", events: []string{"endpoint-write.eventgrid.json", "connection-write.eventgrid.json"}, ok: true},
		{name: "duplicates-and-reordered", events: []string{"connection-write.eventgrid.json", "endpoint-write.eventgrid.json",
			"endpoint-write.cloudevents.json", "connection-write.eventgrid.json", "endpoint-delete.eventgrid.json", "endpoint-write.eventgrid.json"}, ok: true},
		{name: "audit", events: []string{"endpoint-write.eventgrid.json"}, audit: true, ok: true},
		{name: "lost-event-recovered-by-sweep", sweep: true, ok: true},
		{name: "faults-429-500-409-converge", events: []string{"endpoint-write.eventgrid.json"}, ok: true, opts: []sandbox.Option{sandbox.WithFaultRules(
			sandbox.FaultRule{Method: "PUT", ID: "privateEndpointConnections", Status: 429, Code: "TooManyRequests", RetryAfter: sandbox.Duration(30 * time.Second), Count: 1},
			sandbox.FaultRule{Method: "PUT", ID: "virtualNetworkLinks", Status: 500, Code: "InternalServerError", Count: 1},
			sandbox.FaultRule{Method: "PUT", ID: "privateDnsZoneGroups", Status: 409, Code: "AnotherOperationInProgress", Count: 1},
		)}},
		{name: "forbidden-link-dead-letters", events: []string{"endpoint-write.eventgrid.json"}, ok: false, opts: []sandbox.Option{sandbox.WithFaultRules(
			sandbox.FaultRule{Method: "PUT", ID: "virtualNetworkLinks", Status: 403, Code: "AuthorizationFailed", Message: "no join permission on the VNet"},
		)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := loadSandbox(t, tt.opts...)
			rep := run(t, sb, loadPolicy(t, tt.audit), tt.sweep, deliveries(t, tt.events...))
			if rep.OK() != tt.ok {
				t.Errorf("OK = %v, want %v; dead letters %+v", rep.OK(), tt.ok, rep.DeadLetters)
			}
			checkGolden(t, tt.name, golden{Lines: rep.Lines, Summary: rep.Summary, Final: finalState(t, sb)})
		})
	}
}

func TestReplayTwiceWritesNothingMore(t *testing.T) {
	sb := loadSandbox(t)
	p := loadPolicy(t, false)
	d := deliveries(t, "endpoint-write.eventgrid.json", "connection-write.eventgrid.json", "peering-write.eventgrid.json")
	first := run(t, sb, p, true, d)
	if first.Summary.Writes == 0 {
		t.Fatalf("first replay wrote nothing: %+v", first.Summary)
	}
	second := run(t, sb, p, true, d)
	if second.Summary.Writes != 0 || second.Summary.ARMWrites != 0 {
		t.Errorf("second replay: reconciler writes %d, sandbox PUT/DELETE %d; want 0 and 0", second.Summary.Writes, second.Summary.ARMWrites)
	}
	if !second.OK() {
		t.Errorf("second replay dead-lettered jobs: %+v", second.DeadLetters)
	}
}
