//go:build !production

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplayCommand(t *testing.T) {
	const (
		scenario = "../testdata/scenarios/guide.yaml"
		pol      = "../examples/policy.yaml"
		endpoint = "../testdata/events/endpoint-write.eventgrid.json"
	)
	notJSON := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notJSON, []byte("# not an event\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "an endpoint event approves and links", args: []string{"--sandbox", scenario, "--policy", pol, endpoint},
			wantStdout: []string{"approve", "rule=allow-app-subscriptions", "create-link", "malformed 0",
				// the workspace's endpoint VNet is linked to the zone its FHIR names resolve through
				"zone=privatelink.fhir.azurehealthcareapis.com rule=linkEndpointVNets"}},
		{name: "flags after the event file", args: []string{endpoint, "--sandbox", scenario, "--policy", pol},
			wantStdout: []string{"approve", "jobs run 1, completed 1"}},
		{name: "a batch with malformed events names file, event and reason", args: []string{"--sandbox", scenario, "--policy", pol, "../testdata/events/batch-with-malformed.eventgrid.json"},
			wantCode: 1, wantStdout: []string{"malformed 3"}, wantStderr: []string{"batch-with-malformed.eventgrid.json: event ", "is malformed, not replayed: "}},
		{name: "a file that is not an event", args: []string{"--sandbox", scenario, "--policy", pol, notJSON},
			wantCode: 1, wantStderr: []string{"notes.txt: event 0 is malformed"}},
		{name: "no event files", args: []string{"--sandbox", scenario, "--policy", pol},
			wantCode: 2, wantStderr: []string{"no event files given"}},
		{name: "missing event file", args: []string{"--sandbox", scenario, "--policy", pol, "nope.json"},
			wantCode: 2, wantStderr: []string{"nope.json"}},
		{name: "missing policy flag", args: []string{"--sandbox", scenario, endpoint},
			wantCode: 2, wantStderr: []string{"--policy and one of --sandbox SCENARIO or --live are required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(append([]string{"replay"}, tt.args...), &stdout, &stderr); got != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", got, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func TestReplayJSONListsMalformed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--json", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", "../examples/policy.yaml",
		"../testdata/events/batch-with-malformed.eventgrid.json"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (malformed events)\nstderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var last struct {
		DeadLetters []json.RawMessage `json:"deadLetters"`
		Malformed   []malformedEvent  `json:"malformed"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last line is not the JSON summary: %v\n%s", err, lines[len(lines)-1])
	}
	if len(last.Malformed) != 3 || last.DeadLetters == nil {
		t.Errorf("got %d malformed, deadLetters %v; want 3 and an empty list\n%s", len(last.Malformed), last.DeadLetters, lines[len(lines)-1])
	}
	for _, m := range last.Malformed {
		if m.Reason == "" || !strings.HasSuffix(m.File, "batch-with-malformed.eventgrid.json") {
			t.Errorf("malformed entry without file or reason: %+v", m)
		}
	}
}
