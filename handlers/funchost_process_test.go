package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// settingsOfThisApp are cleared from the environment the test binary
// passes on, so that the process sees only what each test sets.
var settingsOfThisApp = []string{envSandbox, envDataDir, envPolicy, envPolicyFile, envSBTrigger, envSBConnection, envSBNamespace, envSubscriptions, envOutcomeTopic, envReportsDir, envReportsURL}

func processEnv(t *testing.T, kv ...string) []string {
	t.Helper()
	for _, k := range settingsOfThisApp {
		if v, ok := os.LookupEnv(k); ok {
			t.Setenv(k, v) // restored after the test
			os.Unsetenv(k)
		}
	}
	return kv
}

// hostEventGridEnvelope is the invocation the host sends for one Event
// Grid event (pkg/funchost/testdata/envelopes/README.md): the event
// rendered with JToken.ToString(Formatting.Indented) on a Windows host
// ("\r\n"), serialised, and encoded again by the envelope; the event's
// top-level fields and "sys" as metadata.
func hostEventGridEnvelope(t *testing.T, event []byte) []byte {
	t.Helper()
	var ind bytes.Buffer
	if err := json.Indent(&ind, event, "", "  "); err != nil {
		t.Fatal(err)
	}
	once, _ := json.Marshal(strings.ReplaceAll(ind.String(), "\n", "\r\n"))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(event, &top); err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"sys": map[string]any{"MethodName": fnResourceEvents, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano), "RandGuid": "5f0e1d2c-3b4a-4958-8776-655443322110"}}
	for k, v := range top {
		if v[0] == '{' {
			meta[k] = v
		} else if v[0] != '[' {
			var s string
			json.Unmarshal(v, &s)
			q, _ := json.Marshal(s)
			meta[k] = string(q)
		}
	}
	out, err := json.Marshal(map[string]any{"Data": map[string]any{resourceEventsBinding: string(once)}, "Metadata": meta})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apiInvocation is the host's envelope of an HTTP request to the Api
// function (forwarding off).
func apiInvocation(method, path string) []byte {
	out, _ := json.Marshal(map[string]any{
		"Data": map[string]any{apiBinding: map[string]any{
			"Url": "http://localhost:7071/api/" + path + "?code=local-key", "Method": method,
			"Query":   map[string]string{"code": "local-key"},
			"Headers": map[string][]string{"Accept": {"application/json"}, "Host": {"localhost:7071"}},
			"Params":  map[string]string{apiRouteParam: path}, "Identities": []any{},
		}},
		"Metadata": map[string]any{"sys": map[string]any{"MethodName": fnAPI, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano)}},
	})
	return out
}

// TestFunctionsModeSandboxProcess runs the built binary as the Functions
// host would, on the sandbox (AUTOPILOT_SANDBOX): an Event Grid invocation
// in the host's real shape for the guide's pending endpoint leads to the
// approval, seen through the Api function; Reconcile runs a job it is
// given and Sweep sweeps; a Reconcile invocation whose body is not a job
// fails with a line on stderr; SIGTERM stops it.
func TestFunctionsModeSandboxProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	bin := handlerBinary(t)
	env := processEnv(t, envSandbox+"=../testdata/scenarios/guide.yaml", envPolicyFile+"=../examples/policy.yaml",
		envDataDir+"="+t.TempDir())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	base, cmd := startBinary(t, bin, stdout, stderr, env...)
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	raw, err := os.ReadFile("../testdata/events/endpoint-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []json.RawMessage
	if err := json.Unmarshal(raw, &evs); err != nil || len(evs) != 1 {
		t.Fatalf("endpoint-write.eventgrid.json: want one event: %v", err)
	}
	status, body := invoke(t, base, fnResourceEvents, "inv-eg-1", hostEventGridEnvelope(t, evs[0]))
	if status != http.StatusOK || !strings.Contains(body, "enqueued") {
		t.Fatalf("ResourceEvents: %d %s; want 200 with the enqueued job in Logs", status, body)
	}

	var st autopilot.Status
	deadline := time.Now().Add(60 * time.Second)
	for approved := false; !approved; {
		if time.Now().After(deadline) {
			t.Fatalf("no approval in the Api's /api/status before the deadline; last status %+v\nstderr:\n%s\nstdout:\n%s", st, stderr.tail(4000), stdout.tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
		status, body := invoke(t, base, fnAPI, "inv-api", apiInvocation(http.MethodGet, "status"))
		if status != http.StatusOK {
			t.Fatalf("Api GET /api/status: %d %s", status, body)
		}
		var resp struct {
			Outputs map[string]struct {
				StatusCode string `json:"statusCode"`
				Body       string `json:"body"`
			}
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("Api answer is not the host's envelope: %v: %s", err, body)
		}
		res := resp.Outputs[apiOutput]
		if res.StatusCode != "200" {
			t.Fatalf("Api http output: %+v, want statusCode 200", res)
		}
		st = autopilot.Status{}
		if err := json.Unmarshal([]byte(res.Body), &st); err != nil {
			t.Fatalf("status body: %v: %s", err, res.Body)
		}
		for _, d := range st.Decisions {
			approved = approved || (d.Type == "connection.approved" && strings.EqualFold(d.Subject, guideAppConn))
		}
	}
	if st.Counters.Events != 1 || st.Counters.EventsEnqueued != 1 {
		t.Errorf("status counters: events %d, enqueued %d; want the one delivered event counted and enqueued", st.Counters.Events, st.Counters.EventsEnqueued)
	}

	// Reconcile runs a job body it is given (the endpoint again: converged,
	// nothing to write), and Sweep sweeps the sandbox.
	j := jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "process-test")
	status, body = invoke(t, base, fnReconcile, "inv-sb-job", []byte(serviceBusEnvelope(t, j)))
	if status != http.StatusOK || !strings.Contains(body, "job "+j.ID+": complete") {
		t.Errorf("Reconcile with a job: %d %s; want 200 and the job completed", status, body)
	}
	status, body = invoke(t, base, fnSweep, "inv-timer", envelope(t, "timer.json"))
	if status != http.StatusOK || !regexp.MustCompile(`swept [1-9]\d* subscriptions: [1-9]\d* targets`).MatchString(body) {
		t.Errorf("Sweep: %d %s; want 200 and the guide's targets swept", status, body)
	}

	// A Service Bus message whose body is not a job, as the host sends it.
	notAJob, _ := json.Marshal(`{"hello":"world"}`)
	envl, _ := json.Marshal(map[string]any{
		"Data":     map[string]any{reconcileBinding: string(notAJob)},
		"Metadata": map[string]any{"DeliveryCount": "1", "MessageId": `"m-not-a-job"`},
	})
	status, body = invoke(t, base, fnReconcile, "inv-sb-bad", envl)
	if status < 300 || !strings.Contains(body, "Reconcile: Data.message") {
		t.Errorf("Reconcile with a body that is not a job: %d %s; want a non-2xx naming Data.message", status, body)
	}

	if err := stopBinary(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.tail(4000))
	}
	var failure map[string]any
	for _, l := range stderr.lines(t) {
		if l["invocationId"] == "inv-sb-bad" {
			failure = l
		}
	}
	if failure == nil || failure["level"] != "error" || failure["function"] != fnReconcile || failure["messageId"] != "m-not-a-job" ||
		!strings.Contains(failure["error"].(string), "Data.message") {
		t.Errorf("failure line on stderr: %v; want level error, function, invocation id, message id and the reason\n%s", failure, stderr.tail(4000))
	}
	for _, l := range stderr.rawLines() {
		if strings.Contains(l, "inv-sb-bad") && hostLevel(true, l) != "Error" {
			t.Errorf("the host would not log the failure as an error: %s", l)
		}
	}
}

// TestFunctionsModeWithoutServiceBusProcess: neither AUTOPILOT_SANDBOX nor
// a Service Bus setting: invocations fail with an error naming the
// settings, and the same error is on the process output from the start.
func TestFunctionsModeWithoutServiceBusProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	bin := handlerBinary(t)
	env := processEnv(t, envPolicyFile+"=../examples/policy.yaml")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	base, cmd := startBinary(t, bin, stdout, stderr, env...)
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	names := []string{envSBTrigger + " or " + envSBNamespace, envSandbox}
	status, body := invoke(t, base, fnResourceEvents, "inv-nosb", envelope(t, "eventgrid-schema.json"))
	if status != http.StatusInternalServerError {
		t.Errorf("ResourceEvents without Service Bus: %d %s; want 500", status, body)
	}
	for _, n := range names {
		if !strings.Contains(body, n) {
			t.Errorf("answer %s does not name %s", body, n)
		}
	}
	if err := stopBinary(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	var startup, invocation bool
	for _, l := range stderr.lines(t) {
		msg, _ := l["error"].(string)
		if !strings.Contains(msg, names[0]) || !strings.Contains(msg, names[1]) {
			continue
		}
		if l["invocationId"] == nil {
			startup = true
		} else if l["invocationId"] == "inv-nosb" {
			invocation = true
		}
	}
	if !startup || !invocation {
		t.Errorf("stderr lacks the configuration error at start (%v) or on the failed invocation (%v):\n%s", startup, invocation, stderr.tail(4000))
	}
}
