package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Issue 26: a job message whose streak is near MaxInt64 overflowed the
// retry counter and retried forever under a persistent throttle. Under the
// Functions host the message is refused as a 400 naming the field (the
// host abandons it and Service Bus dead-letters it after MaxDeliveryCount,
// body kept), and a job at the counters' bound is parked at once.
func TestReconcileFunctionPoisonCounterDeadLetters(t *testing.T) {
	e := newFnEnv(t)
	e.sb.AddFaultRule(sandbox.FaultRule{Method: "PUT", ID: "contoso-health", Status: 429, Code: "TooManyRequests", RetryAfter: sandbox.Duration(5 * time.Minute)})

	j := jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "fn-poison")
	body, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	poison := strings.Replace(string(body), `"attempt":1`, `"attempt":1,"streak":9223372036854775807`, 1)
	once, _ := json.Marshal(poison)
	twice, _ := json.Marshal(string(once))
	env := `{"Data":{"message":` + string(twice) + `},"Metadata":{"DeliveryCount":"1","MessageId":"\"poison\"","LockToken":"\"8d4f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a2b3\"","EnqueuedTimeUtc":"2026-11-04T09:00:00"}}`
	status, out := callFn(t, e.url, fnReconcile, env)
	if status != http.StatusBadRequest || !strings.Contains(out, `field \"streak\"`) {
		t.Fatalf("poison message: %d %s; want 400 naming the streak", status, out)
	}
	if st, _ := e.store.Stats("reconcile"); st.Scheduled != 0 || st.Active != 0 {
		t.Errorf("reconcile queue %+v; want no retry scheduled", st)
	}

	// every ARM call throttled: the run makes no progress, so the streak
	// (saturated at the bound) decides
	e.sb.AddFaultRule(sandbox.FaultRule{Status: 429, Code: "TooManyRequests", RetryAfter: sandbox.Duration(5 * time.Minute)})
	j = jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "fn-at-bound")
	j.Streak = jobs.MaxCounter
	status, out = callFn(t, e.url, fnReconcile, serviceBusEnvelope(t, j))
	if status != http.StatusOK || !strings.Contains(out, "parked on reconcile-failed") {
		t.Fatalf("job at the bound: %d %s; want it parked", status, out)
	}
	parked, err := e.store.Queue("reconcile-failed").Receive(context.Background(), 10)
	if err != nil || len(parked) != 1 || parked[0].Job.ID != j.ID {
		t.Fatalf("parking queue %+v, %v; want job %s", parked, err, j.ID)
	}
	if st, _ := e.store.Stats("reconcile"); st.Scheduled != 0 {
		t.Errorf("reconcile queue %+v; want no retry scheduled", st)
	}
}
