package autopilot_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// The status page after the start-up sweep: a rejection is not shown in
// green as "applied", each decision names its target, and the reason says
// what the rule checked and what the requester was told.
func TestStatusPageDecisions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Drain(ctx, e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile")); err != nil {
		t.Fatal(err)
	}
	st := e.svc.Status()
	var rejected bool
	for _, d := range st.Decisions {
		if d.Type == "connection.rejected" {
			rejected = true
			if d.Target == "" || !strings.Contains(d.Condition, "endpoint.subscriptionId") || d.Description == "" {
				t.Errorf("rejection entry %+v: want its target, the rule's condition and the description sent", d)
			}
		}
	}
	if !rejected {
		t.Fatalf("decisions %+v: want the rejection of pe-unknown", st.Decisions)
	}

	srv := httptest.NewServer(e.svc.API())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/status?format=html")
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	_, _ = readAll(b, resp)
	page := b.String()
	row := regexp.MustCompile(`(?s)<tr><td>[^<]*</td><td class="connection.rejected">connection.rejected</td><td title="[^"]*">contoso-health</td>.*?</tr>`).FindString(page)
	if row == "" {
		t.Fatalf("status page has no rejected decision row naming the target contoso-health:\n%s", page)
	}
	if strings.Contains(row, `class="applied"`) || strings.Contains(row, `class="pass"`) {
		t.Errorf("the rejection row is styled as a success: %s", row)
	}
	if !strings.Contains(row, "told the requester: Subscription not onboarded") || !strings.Contains(row, "condition:") {
		t.Errorf("the rejection row does not say why beyond the rule name: %s", row)
	}
	if !strings.Contains(page, `href="targets?format=html"`) {
		t.Errorf("status page does not link the estate page")
	}
}
