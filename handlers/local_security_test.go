package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/httpguard"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/rs/zerolog"
)

func TestLocalKeyRequiredOffLoopback(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:8080", "[::1]:0", "localhost:7071"} {
		key, gen, err := localKey(listen, "")
		if err != nil || key != "" || gen {
			t.Errorf("%s: key %q generated %v err %v; want keyless on loopback", listen, key, gen, err)
		}
	}
	seen := map[string]bool{}
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "10.1.2.3:80", "[::]:80"} {
		key, gen, err := localKey(listen, "")
		if err != nil || !gen || len(key) < 32 || seen[key] {
			t.Errorf("%s: key %q generated %v err %v; want a fresh generated key", listen, key, gen, err)
		}
		seen[key] = true
	}
	if key, gen, err := localKey("0.0.0.0:80", "my-own-key-0123456789-0123456789-abc"); err != nil || gen || key != "my-own-key-0123456789-0123456789-abc" {
		t.Errorf("given key: %q %v %v", key, gen, err)
	}
	if _, _, err := localKey("0.0.0.0:80", "short"); err == nil || !strings.Contains(err.Error(), "--webhook-key") {
		t.Errorf("short key: %v; want an error naming --webhook-key", err)
	}
}

// The attack of issue 17: a forged ARM event with chosen claims, posted to
// a `handler local` reachable from the network. With the key required it
// is refused on both webhook paths, and so is the API; nothing reaches the
// queue and ARM is not written.
func TestLocalForgedEventWithoutKeyRefused(t *testing.T) {
	gw := guidetest.New(t)
	clock := clock.NewFake(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc, err := autopilot.New(autopilot.Config{Policy: gw.Policy, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: events.NewMemDeadStore(), Now: clock.Now, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := localKey("0.0.0.0:8080", "")
	if err != nil {
		t.Fatal(err)
	}
	mux := localMux(svc, events.WebhookOptions{Key: key}, autopilot.APIOptions{Key: key}, zerolog.Nop())
	ev, err := os.ReadFile("../testdata/events/endpoint-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.ReplaceAll(string(ev), "/rg-app/", "/rg-app-network/")
	before := gw.Sandbox.Stats()
	call := func(method, target, body string, hdr ...string) (int, string) {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	for _, tt := range []struct{ method, target, body string }{
		{"POST", "/api/events", forged},
		{"POST", "/runtime/webhooks/EventGrid?functionName=ResourceEvents", forged},
		{"POST", "/api/events?code=guess", forged},
		{"GET", "/api/status", ""},
		{"POST", "/api/verify", `{"id":"/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"}`},
		{"POST", "/api/evaluate", `{"connectionId":"x"}`},
	} {
		if code, body := call(tt.method, tt.target, tt.body, "aeg-event-type", "Notification"); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the key: %d %s; want 401", tt.method, tt.target, code, body)
		}
	}
	for _, q := range []string{"reconcile", "verify"} {
		if st, err := store.Stats(q); err != nil || st.Pending() != 0 {
			t.Errorf("%s queue %+v, %v; want nothing queued", q, st, err)
		}
	}
	if after := gw.Sandbox.Stats(); after.Total != before.Total {
		t.Errorf("ARM calls %d->%d; want none", before.Total, after.Total)
	}
	if code, body := call("POST", "/api/events", forged, "aeg-event-type", "Notification", "x-functions-key", key); code != http.StatusOK {
		t.Errorf("with the key: %d %s", code, body)
	}
	if code, _ := call("GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
}

// A 900 KB batch of junk events in flight when the process is told to stop:
// the delivery is counted and sampled in one write, and the shutdown
// completes cleanly.
func TestLocalShutdownCompletesDuringAJunkBatch(t *testing.T) {
	gw := guidetest.New(t)
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "q.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dead, err := events.NewFileDeadStore(filepath.Join(dir, "dead"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := autopilot.New(autopilot.Config{Policy: gw.Policy, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: dead, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, ln, localMux(svc, events.WebhookOptions{}, autopilot.APIOptions{}, zerolog.Nop()), localLimits, nil, zerolog.Nop())
	}()
	junk := "[" + strings.TrimSuffix(strings.Repeat("{},", 300_000), ",") + "]"
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/api/events", "application/json", strings.NewReader(junk))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	time.Sleep(50 * time.Millisecond) // let the delivery start
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("shutdown during a junk batch: %v", err)
		}
	case <-time.After(shutdownTimeout + 20*time.Second):
		t.Fatal("shutdown did not complete")
	}
	if code := <-answered; code != 0 && code != http.StatusOK && code != http.StatusBadRequest {
		t.Errorf("junk delivery answered %d", code)
	}
	if evs, err := dead.Tail(0); err != nil || len(evs) > events.MaxDeadSample+1 {
		t.Errorf("dead store holds %d events (%v); want at most a sample and a summary", len(evs), err)
	}
	if st := svc.Status().Counters; st.Events != 0 && st.EventsMalformed != 300_000 {
		t.Errorf("counters %+v; want the whole batch counted malformed", st)
	}
}

// On a non-loopback address `handler local` generates a key and prints it
// once on stdout, never in the logs; on loopback a startup line says the
// service is keyless.
func TestLocalGeneratesAndPrintsTheKeyOnce(t *testing.T) {
	for _, tt := range []struct {
		listen  string
		wantKey bool
	}{{"0.0.0.0:0", true}, {"127.0.0.1:0", false}} {
		t.Run(tt.listen, func(t *testing.T) {
			out, logs := &syncBuffer{}, &syncBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- local(ctx, localOptions{scenario: "../testdata/scenarios/guide.yaml", policy: "../examples/policy.yaml",
					listen: tt.listen, data: t.TempDir(), workers: 1, out: out}, zerolog.New(logs))
			}()
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(logs.tail(1<<20), "handler local listening") {
				select {
				case err := <-done:
					t.Fatalf("local stopped: %v\n%s", err, logs.tail(4000))
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("never listening:\n%s", logs.tail(4000))
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("local: %v", err)
			}
			printed := out.tail(1 << 20)
			if !tt.wantKey {
				if strings.Contains(printed, "Generated key") || !strings.Contains(logs.tail(1<<20), "no key: loopback only") {
					t.Errorf("loopback: stdout %q (no key may be generated); logs lack the keyless startup line", printed)
				}
				return
			}
			// the key is the line after the "Generated key" line (the
			// address and sandbox lines follow it)
			lines := strings.Split(strings.TrimSpace(printed), "\n")
			key := ""
			for i, l := range lines {
				if strings.Contains(l, "Generated key") && i+1 < len(lines) {
					key = lines[i+1]
				}
			}
			if len(key) < 32 || strings.Count(printed, key) != 1 || !strings.Contains(printed, "Generated key") {
				t.Fatalf("stdout %q; want the generated key printed once", printed)
			}
			if strings.Contains(logs.tail(1<<20), key) {
				t.Error("the key appears in the logs")
			}
		})
	}
}

func TestLocalValidationTopicsChecked(t *testing.T) {
	gov := []string{"00000000-0000-0000-0000-0000000000BB"}
	for _, tt := range []struct {
		topics []string
		want   string
	}{
		{[]string{"/subscriptions/00000000-0000-0000-0000-0000000000bb"}, ""},
		{[]string{"/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t"}, ""},
		{[]string{"/subscriptions/66666666-6666-6666-6666-666666666666"}, "is not governed"},
		{[]string{"/subscriptions/00000000-0000-0000-0000-0000000000bb/../x"}, `--validation-topic: topic`},
	} {
		err := checkValidationTopics(tt.topics, gov)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v: %v; want %q", tt.topics, err, tt.want)
		}
	}
}

// Issue 26: a refused request and a health probe leave no kept-alive
// connection behind; wrong keys are throttled across the webhook and the
// API together.
func TestLocalClosesAfterRefusalAndHealthz(t *testing.T) {
	gw := guidetest.New(t)
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc, err := autopilot.New(autopilot.Config{Policy: gw.Policy, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: events.NewMemDeadStore(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	keys := httpguard.NewKeys(floodKey, "code", nil, nil)
	mux := localMux(svc, events.WebhookOptions{Keys: keys}, autopilot.APIOptions{Keys: keys}, zerolog.Nop())
	call := func(target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", target, strings.NewReader("[]"))
		req.RemoteAddr = "203.0.113.5:4000"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	for i := range httpguard.FailureBurst {
		target := "/api/events?code=guess"
		if i%2 == 1 {
			target = "/api/status?code=guess"
		}
		if rec := call(target); rec.Code != http.StatusUnauthorized || rec.Header().Get("Connection") != "close" {
			t.Fatalf("wrong key %d on %s: %d %v; want 401 closing the connection", i+1, target, rec.Code, rec.Header())
		}
	}
	if rec := call("/api/status?code=" + floodKey); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("after %d wrong keys on the webhook and the API: %d; want 429 with Retry-After", httpguard.FailureBurst, rec.Code)
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Connection") != "close" {
		t.Errorf("healthz: %d %v; want 200 closing the connection", rec.Code, rec.Header())
	}
}
