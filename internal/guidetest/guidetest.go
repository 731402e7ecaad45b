// Package guidetest gives tests the guide's world in one call: the sandbox
// loaded from testdata/scenarios/guide.yaml (the private link guide's
// situation), the example policy examples/policy.yaml, and the production
// adapters (pkg/azure) running on the sandbox through the SDK's fake servers.
package guidetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// World is the guide's sandbox, the example policy and the adapters over
// the sandbox.
type World struct {
	Sandbox *sandbox.Sandbox
	Policy  *policy.Policy
	ARM     *azure.Client
}

// New loads the world without ARM's throttling (tests make a handful of
// calls at one instant); extra sandbox options come after that default.
func New(t testing.TB, opts ...sandbox.Option) World {
	t.Helper()
	root := Root(t)
	sb, err := sandbox.Load(filepath.Join(root, "testdata", "scenarios", "guide.yaml"), append([]sandbox.Option{sandbox.WithoutThrottling()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(filepath.Join(root, "examples", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	arm, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return World{Sandbox: sb, Policy: pol, ARM: arm}
}

// Root is the module root: the nearest folder above the working directory
// holding go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("guidetest: no go.mod above the working directory")
		}
		dir = parent
	}
}
