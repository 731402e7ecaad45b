package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// The decision core: events in, decisions and plans out. It must not link an
// Azure SDK package, directly or through any dependency; SDK code lives in the
// adapters (pkg/azure), in subpackages (pkg/jobs/servicebus,
// pkg/outcome/eventgrid, pkg/verify/blobstore) and in handlers' wiring.
var sdkFree = []string{
	"github.com/plautopilot/autopilot/pkg/core",
	"github.com/plautopilot/autopilot/pkg/policy",
	"github.com/plautopilot/autopilot/pkg/reconcile",
	"github.com/plautopilot/autopilot/pkg/verify",
	"github.com/plautopilot/autopilot/pkg/jobs",
	"github.com/plautopilot/autopilot/pkg/outcome",
	"github.com/plautopilot/autopilot/pkg/clock",
}

const sdkPrefix = "github.com/Azure/azure-sdk-for-go/"

func TestCoreLinksNoAzureSDK(t *testing.T) {
	for _, pkg := range sdkFree {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		var bad []string
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, sdkPrefix) {
				bad = append(bad, dep)
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s links %d Azure SDK packages (the core must not; move SDK code to an adapter or a subpackage), e.g. %s",
				pkg, len(bad), strings.Join(bad[:min(3, len(bad))], ", "))
		}
	}
}

// The check itself must be able to fail: the adapters do link the SDK.
func TestLayeringCheckSeesTheSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/plautopilot/autopilot/pkg/azure").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), sdkPrefix) {
		t.Fatal("pkg/azure links no Azure SDK package according to go list: the layering check would pass vacuously")
	}
}
