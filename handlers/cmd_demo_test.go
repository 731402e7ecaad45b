package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDemoCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "the story as JSON", args: []string{"demo", "--json", "--color", "never"}, wantCode: 0},
		{name: "missing scenario file", args: []string{"demo", "--scenario", "nope.yaml"}, wantCode: 2, wantStderr: "nope.yaml"},
		{name: "bad colour mode", args: []string{"demo", "--color", "pink"}, wantCode: 2, wantStderr: "--color"},
		{name: "stray argument", args: []string{"demo", "extra"}, wantCode: 2, wantStderr: `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstderr: %s", got, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, stderr.String())
			}
			if tc.wantCode != 0 {
				return
			}
			var res struct {
				OK        bool `json:"ok"`
				Decisions []struct {
					Endpoint, Decision string
				} `json:"decisions"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("stdout is not the JSON result: %v\n%s", err, stdout.String())
			}
			if !res.OK || len(res.Decisions) != 2 {
				t.Errorf("result: ok %v, %d decisions; want ok and 2", res.OK, len(res.Decisions))
			}
			if !strings.Contains(stderr.String(), "The story went as expected.") {
				t.Errorf("the transcript did not go to stderr with --json")
			}
		})
	}
}
