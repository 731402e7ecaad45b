package events

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// seedCorpus adds every shared fixture and every testdata event file, plus
// a few edge cases, to a fuzz corpus.
func seedCorpus(f *testing.F) {
	for _, p := range append(fixtureFilesOrNone(f), eventFiles(f)...) {
		f.Add(readFile(f, p))
	}
	for _, s := range []string{``, `[]`, `[`, `{}`, `null`, `"{}"`, `[1,{"id":2}]`, `{"id":"a","type":"t","specversion":"1.0","data_base64":"!!"}`} {
		f.Add([]byte(s))
	}
}

func fixtureFilesOrNone(f *testing.F) []string {
	files, _ := filepath.Glob(filepath.Join(fixturesDir, "*", "*.json"))
	return files
}

func FuzzParseBatch(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, bad := ParseBatch(body)
		if len(bytes.TrimSpace(body)) > 0 && len(evs)+len(bad) == 0 && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			t.Fatalf("a non-array body gave neither an event nor a malformed entry")
		}
		for _, m := range bad {
			if m.Reason == "" {
				t.Errorf("malformed entry %d without a reason", m.Index)
			}
			if len(m.Raw) > MaxRawBytes {
				t.Errorf("malformed raw of %d bytes exceeds the cap", len(m.Raw))
			}
		}
		for _, ev := range evs {
			if strings.TrimSpace(ev.ID) == "" || strings.TrimSpace(ev.Type) == "" {
				t.Errorf("event without id or type: %+v", ev)
			}
			if ev.Schema != SchemaEventGrid && ev.Schema != SchemaCloudEvents {
				t.Errorf("schema %q", ev.Schema)
			}
			if ev.IsARM() {
				if _, err := arm.ParseResourceID(ev.ResourceID()); err != nil {
					t.Errorf("ARM event parsed with a bad resource id %q: %v", ev.ResourceID(), err)
				}
			}
			// A parsed event re-parses to the same identity.
			again, err := ParseOne(ev.Raw)
			if err != nil || again.ID != ev.ID || again.Type != ev.Type {
				t.Errorf("re-parse of %q: %v", ev.Raw, err)
			}
		}
	})
}

func FuzzClassify(f *testing.F) {
	seedCorpus(f)
	in := &Intake{Queue: &memSender{}, Log: zerolog.Nop(), Dead: NewMemDeadStore(), Now: func() time.Time { return fixedNow }}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, _ := ParseBatch(body)
		for _, ev := range evs {
			c := Classify(ev)
			if c.Ignored {
				if c.Reason == "" || c.Kind != KindIgnored || c.TargetID != "" {
					t.Fatalf("ignored without reason or with a target: %+v", c)
				}
				continue
			}
			if _, ok := ruleFor(ev.OperationName); !ok {
				t.Fatalf("operation %q classified %s but is not handled", ev.OperationName, c.Kind)
			}
			rid, err := arm.ParseResourceID(c.TargetID)
			if err != nil {
				t.Fatalf("target %q does not parse: %v", c.TargetID, err)
			}
			if rid.SubscriptionID == "" || rid.ResourceGroupName == "" || rid.Name == "" {
				t.Fatalf("target %q lacks subscription, group or name", c.TargetID)
			}
			if isDeploymentID(c.TargetID) {
				t.Fatalf("deployment id %q became a target", c.TargetID)
			}
			switch c.Subject {
			case jobs.SubjectEndpoint, jobs.SubjectTarget, jobs.SubjectVNet, jobs.SubjectZone:
			default:
				t.Fatalf("subject %q", c.Subject)
			}
			// Deterministic: classifying again gives the same job.
			if j1, j2 := Job(c, fixedNow), Job(Classify(ev), fixedNow); j1.ID != j2.ID {
				t.Fatalf("job id not deterministic: %s vs %s", j1.ID, j2.ID)
			}
		}
		// The intake never panics and accounts for every event.
		res, err := in.Handle(context.Background(), body)
		if err != nil {
			t.Fatalf("intake with a working queue failed: %v", err)
		}
		if res.Enqueued+res.Ignored+res.Malformed != res.Received || len(res.Receipts) != res.Received {
			b, _ := json.Marshal(res)
			t.Fatalf("result does not add up: %s", b)
		}
	})
}
