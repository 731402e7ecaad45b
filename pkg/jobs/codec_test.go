package jobs_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

const endpoint = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-fhir"

func sample() jobs.Job {
	j := jobs.New(jobs.KindVerify, jobs.SubjectEndpoint, endpoint, "event-7")
	j.CorrelationID = "event-7"
	j.Created = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return j
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	j := sample()
	j.NotBefore = time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)
	j.ResumeToken = "tok"
	b, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jobs.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, j); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
}

func TestDecodeAcceptsHostQuoting(t *testing.T) {
	j := sample()
	b, _ := jobs.Encode(j)
	once, _ := json.Marshal(string(b))
	twice, _ := json.Marshal(string(once))
	for name, body := range map[string][]byte{"object": b, "quoted once": once, "quoted twice": twice, "padded": []byte("  \n" + string(b) + "\n")} {
		t.Run(name, func(t *testing.T) {
			got, err := jobs.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, j); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	valid := func(mut func(m map[string]any)) []byte {
		b, _ := jobs.Encode(sample())
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mut(m)
		out, _ := json.Marshal(m)
		return out
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"version missing", valid(func(m map[string]any) { delete(m, "version") }), `field "version" unsupported version 0`},
		{"version from the future", valid(func(m map[string]any) { m["version"] = 2 }), `field "version" unsupported version 2`},
		{"id empty", valid(func(m map[string]any) { m["id"] = "" }), `field "id" is empty`},
		{"unknown kind", valid(func(m map[string]any) { m["kind"] = "rebuild" }), `field "kind" unknown kind "rebuild"`},
		{"unknown subject", valid(func(m map[string]any) { m["subject"] = "dns" }), `field "subject" unknown subject "dns"`},
		{"target missing", valid(func(m map[string]any) { delete(m, "targetId") }), `field "targetId" is empty`},
		{"target not a resource id", valid(func(m map[string]any) { m["targetId"] = "pe-fhir" }), `field "targetId" "pe-fhir" is not an ARM resource id`},
		{"attempt zero", valid(func(m map[string]any) { m["attempt"] = 0 }), `field "attempt" is 0`},
		{"attempt is a string", valid(func(m map[string]any) { m["attempt"] = "1" }), `field "attempt" has JSON type string`},
		{"not an object", []byte(`[1,2]`), "not a JSON object"},
		{"empty", []byte("  "), "body is empty"},
		{"broken JSON", []byte(`{"version":1,`), "invalid job"},
		{"quoted four times", []byte(`"\"\\\"\\\\\\\"x\\\\\\\"\\\"\""`), "quoted more than 3 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jobs.Decode(tt.body)
			if !errors.Is(err, jobs.ErrInvalidJob) {
				t.Fatalf("err = %v, want ErrInvalidJob", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEncodeRefusesInvalidJob(t *testing.T) {
	j := sample()
	j.Version = 0
	if _, err := jobs.Encode(j); !errors.Is(err, jobs.ErrInvalidJob) {
		t.Errorf("err = %v, want ErrInvalidJob", err)
	}
}

func TestNext(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	j := sample()
	n := j.Next(30*time.Second, now)
	n2 := n.Next(time.Minute, now.Add(time.Minute))
	got := []any{n.Attempt, n.NotBefore, n.CorrelationID, n.TargetID, n.Created, n2.Attempt}
	want := []any{2, now.Add(30 * time.Second), j.CorrelationID, j.TargetID, j.Created, 3}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("attempt, notBefore, correlation, target, created, next attempt (-got +want):\n%s", diff)
	}
	if n.ID == j.ID || n2.ID == n.ID || n2.ID == j.ID {
		t.Errorf("ids not distinct: %s %s %s", j.ID, n.ID, n2.ID)
	}
	if again := j.Next(time.Hour, now.Add(time.Hour)); again.ID != n.ID {
		t.Errorf("retrying the same attempt twice gave ids %s and %s; want equal so duplicate detection collapses them", n.ID, again.ID)
	}
	if err := n.Validate(); err != nil {
		t.Errorf("next attempt invalid: %v", err)
	}
}

// A job carries its trigger through the queue; a message written before
// jobs had one still decodes, and the trigger its fields imply is derived
// (the peering jobs of old messages stay peering jobs).
func TestTriggerTravelsAndOldMessagesGetOne(t *testing.T) {
	j := jobs.New(jobs.KindReconcile, jobs.SubjectVNet, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub", "e1")
	j.Trigger = jobs.TriggerPeering
	b, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"trigger":"peering"`) {
		t.Errorf("encoded job %s lacks its trigger", b)
	}
	got, err := jobs.Decode(b)
	if err != nil || got.Trigger != jobs.TriggerPeering {
		t.Fatalf("decoded trigger %q, err %v", got.Trigger, err)
	}

	old := func(reason string, extra string) jobs.Job {
		body := `{"version":1,"id":"x","kind":"reconcile","subject":"vnet","targetId":"/subscriptions/s/x","attempt":1,"reason":"` + reason + `"` + extra + `}`
		j, err := jobs.Decode([]byte(body))
		if err != nil {
			t.Fatalf("old message %s: %v", body, err)
		}
		return j
	}
	for _, tt := range []struct {
		job  jobs.Job
		want jobs.Trigger
	}{
		{old("Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write", ""), jobs.TriggerPeering},
		{old("Microsoft.Network/virtualNetworks/write", ""), jobs.TriggerVNet},
		{old("sweep: VNet matches link rule hub", ""), jobs.TriggerSweep},
		{old("private access verified", `,"privateVerified":true`), jobs.TriggerVerified},
	} {
		if tt.job.Trigger != "" {
			t.Errorf("old message %q decoded with trigger %q: it had none", tt.job.Reason, tt.job.Trigger)
		}
		if got := tt.job.EffectiveTrigger(); got != tt.want {
			t.Errorf("old message %q: effective trigger %q, want %q", tt.job.Reason, got, tt.want)
		}
	}

	bad := strings.Replace(string(b), `"trigger":"peering"`, `"trigger":"whim"`, 1)
	if _, err := jobs.Decode([]byte(bad)); !errors.Is(err, jobs.ErrInvalidJob) || !strings.Contains(err.Error(), `"trigger"`) {
		t.Errorf("unknown trigger: err %v, want ErrInvalidJob naming the field", err)
	}
}

func TestDecodeRefusesDeepBody(t *testing.T) {
	body := `{"version":1,"id":"x","kind":"reconcile","subject":"target","targetId":"/s","attempt":1,"actor":` + strings.Repeat(`{"a":`, 200) + `}`
	_, err := jobs.Decode([]byte(body))
	if !errors.Is(err, jobs.ErrInvalidJob) || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
		t.Fatalf("Decode = %v; want ErrInvalidJob naming the depth", err)
	}
}

// Every counter of a message is checked: negative, or beyond MaxCounter
// (issue 26's streak near MaxInt64), the message is an invalid job naming
// the field, which the queues dead-letter.
func TestDecodeRefusesPoisonCounters(t *testing.T) {
	base := `{"version":1,"id":"x","kind":"reconcile","subject":"target","targetId":"/subscriptions/s","attempt":1`
	for field, body := range map[string]string{
		"streak":    base + `,"streak":9223372036854775807}`,
		"attempt":   `{"version":1,"id":"x","kind":"reconcile","subject":"target","targetId":"/subscriptions/s","attempt":9223372036854775807}`,
		"deferrals": base + `,"deferrals":-3}`,
	} {
		_, err := jobs.Decode([]byte(body))
		if !errors.Is(err, jobs.ErrInvalidJob) || !strings.Contains(err.Error(), `field "`+field+`"`) {
			t.Errorf("%s: Decode = %v; want ErrInvalidJob naming the field", field, err)
		}
	}
	j := sample()
	j.Streak = jobs.MaxCounter
	if _, err := jobs.Encode(j); err != nil {
		t.Errorf("a streak at the bound: %v; want it valid", err)
	}
}

func TestNextSaturates(t *testing.T) {
	j := sample()
	j.Attempt, j.Streak = jobs.MaxCounter, jobs.MaxCounter
	n := j.Next(time.Second, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	if n.Attempt != jobs.MaxCounter || n.Streak != jobs.MaxCounter {
		t.Errorf("Next of a job at the bound: attempt %d streak %d; want both %d", n.Attempt, n.Streak, jobs.MaxCounter)
	}
	if _, err := jobs.Encode(n); err != nil {
		t.Errorf("the retry of a job at the bound does not encode: %v", err)
	}
}
