package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The function app's configuration as the Functions host reads it; these
// tests keep it in step with the code that reads invocations.

type binding struct {
	Type       string   `json:"type"`
	Direction  string   `json:"direction"`
	Name       string   `json:"name"`
	QueueName  string   `json:"queueName"`
	Connection string   `json:"connection"`
	Schedule   string   `json:"schedule"`
	AuthLevel  string   `json:"authLevel"`
	Methods    []string `json:"methods"`
	Route      string   `json:"route"`
	DataType   string   `json:"dataType"`
}

type functionJSON struct {
	Bindings []binding `json:"bindings"`
}

func readJSON(t *testing.T, path string, v any) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func readFunctionJSONs(t *testing.T) map[string]functionJSON {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]functionJSON{}
	for _, p := range paths {
		var f functionJSON
		readJSON(t, p, &f)
		out[filepath.Base(filepath.Dir(p))] = f
	}
	return out
}

func localSettings(t *testing.T) map[string]string {
	t.Helper()
	var ls struct {
		IsEncrypted bool              `json:"IsEncrypted"`
		Values      map[string]string `json:"Values"`
	}
	readJSON(t, filepath.Join("..", "local.settings.json.example"), &ls)
	if len(ls.Values) == 0 {
		t.Fatal("local.settings.json.example has no Values")
	}
	return ls.Values
}

func TestFunctionFoldersMatchHandlers(t *testing.T) {
	var dirs []string
	for name := range readFunctionJSONs(t) {
		dirs = append(dirs, name)
	}
	var handlers []string
	for name := range newFunctionsForTest() {
		handlers = append(handlers, name)
	}
	slices.Sort(dirs)
	slices.Sort(handlers)
	if diff := cmp.Diff(dirs, handlers); diff != "" {
		t.Errorf("functions/*/ folders vs handlers in functions() (-folders +handlers):\n%s", diff)
	}
}

func TestFunctionJSONTriggers(t *testing.T) {
	tests := []struct {
		function    string
		triggerType string
		binding     string // the name the handler reads
		check       func(t *testing.T, trigger binding, all []binding)
	}{
		{fnResourceEvents, "eventGridTrigger", resourceEventsBinding, nil},
		{fnReconcile, "serviceBusTrigger", reconcileBinding, func(t *testing.T, b binding, _ []binding) {
			if b.QueueName != "%ReconcileQueueName%" || b.Connection != "ServiceBus" {
				t.Errorf("queueName %q connection %q", b.QueueName, b.Connection)
			}
			if b.DataType == "binary" {
				t.Error(`dataType "binary" would deliver the body base64-encoded`)
			}
		}},
		{fnVerify, "serviceBusTrigger", verifyBinding, func(t *testing.T, b binding, _ []binding) {
			if b.QueueName != "%VerifyQueueName%" || b.Connection != "ServiceBus" {
				t.Errorf("queueName %q connection %q", b.QueueName, b.Connection)
			}
		}},
		{fnSweep, "timerTrigger", sweepBinding, func(t *testing.T, b binding, _ []binding) {
			if b.Schedule != "%SweepSchedule%" {
				t.Errorf("schedule %q, want it from the SweepSchedule setting", b.Schedule)
			}
		}},
		{fnAPI, "httpTrigger", apiBinding, func(t *testing.T, b binding, all []binding) {
			if b.AuthLevel != "function" {
				t.Errorf("authLevel %q, want function", b.AuthLevel)
			}
			if !strings.Contains(b.Route, "{*"+apiRouteParam+"}") {
				t.Errorf("route %q lacks the {*%s} parameter the handler reads", b.Route, apiRouteParam)
			}
			if diff := cmp.Diff(b.Methods, []string{"get", "post"}); diff != "" {
				t.Errorf("methods (-got +want):\n%s", diff)
			}
			var out []string
			for _, o := range all {
				if o.Direction == "out" && o.Type == "http" {
					out = append(out, o.Name)
				}
			}
			if diff := cmp.Diff(out, []string{apiOutput}); diff != "" {
				t.Errorf("http output bindings (-got +want):\n%s", diff)
			}
		}},
	}
	fns := readFunctionJSONs(t)
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			f, ok := fns[tt.function]
			if !ok {
				t.Fatalf("functions/%s/function.json is missing", tt.function)
			}
			var triggers []binding
			for _, b := range f.Bindings {
				if strings.HasSuffix(b.Type, "Trigger") {
					triggers = append(triggers, b)
				}
			}
			if len(triggers) != 1 {
				t.Fatalf("%d trigger bindings, want exactly 1", len(triggers))
			}
			tr := triggers[0]
			if tr.Type != tt.triggerType || tr.Direction != "in" {
				t.Errorf("trigger %s/%s, want %s/in", tr.Type, tr.Direction, tt.triggerType)
			}
			if tr.Name != tt.binding {
				t.Errorf("trigger binding name %q, but the handler reads Data.%s", tr.Name, tt.binding)
			}
			if tt.check != nil {
				tt.check(t, tr, f.Bindings)
			}
		})
	}
}

var settingRef = regexp.MustCompile(`%([^%]+)%`)

// TestFunctionJSONSettingsExist: every %Setting% and connection a binding
// names is in local.settings.json.example, so a fresh checkout runs.
func TestFunctionJSONSettingsExist(t *testing.T) {
	values := localSettings(t)
	for name, f := range readFunctionJSONs(t) {
		for _, b := range f.Bindings {
			for _, field := range []string{b.QueueName, b.Schedule, b.Route} {
				for _, m := range settingRef.FindAllStringSubmatch(field, -1) {
					if _, ok := values[m[1]]; !ok {
						t.Errorf("%s: binding %s uses %%%s%%, missing from local.settings.json.example", name, b.Name, m[1])
					}
				}
			}
			if b.Connection != "" {
				_, str := values[b.Connection]
				_, identity := values[b.Connection+"__fullyQualifiedNamespace"]
				if !str && !identity {
					t.Errorf("%s: connection %q needs %s__fullyQualifiedNamespace (or %s) in local.settings.json.example", name, b.Connection, b.Connection, b.Connection)
				}
			}
		}
	}
	if got := values["FUNCTIONS_WORKER_RUNTIME"]; got != "custom" {
		t.Errorf("FUNCTIONS_WORKER_RUNTIME=%q, want custom", got)
	}
}

// TestSettingsAreDocumented: every setting of the example has a row in
// docs/functions-host.md.
func TestSettingsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "functions-host.md"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range localSettings(t) {
		if !strings.Contains(string(doc), "| `"+k+"` |") {
			t.Errorf("setting %s has no row in the settings table of docs/functions-host.md", k)
		}
	}
}

func TestHostJSON(t *testing.T) {
	var h struct {
		Version       string `json:"version"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest *bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		ExtensionBundle struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"extensionBundle"`
		FunctionTimeout string `json:"functionTimeout"`
		Extensions      struct {
			ServiceBus struct {
				MaxConcurrentCalls         int    `json:"maxConcurrentCalls"`
				AutoCompleteMessages       *bool  `json:"autoCompleteMessages"`
				MaxAutoLockRenewalDuration string `json:"maxAutoLockRenewalDuration"`
			} `json:"serviceBus"`
		} `json:"extensions"`
	}
	readJSON(t, filepath.Join("..", "host.json"), &h)
	if h.Version != "2.0" {
		t.Errorf("version %q, want 2.0", h.Version)
	}
	if h.CustomHandler.Description.DefaultExecutablePath != "handler" {
		t.Errorf("defaultExecutablePath %q, want handler (the binary make stage copies)", h.CustomHandler.Description.DefaultExecutablePath)
	}
	if f := h.CustomHandler.EnableForwardingHTTPRequest; f == nil || *f {
		t.Error("enableForwardingHttpRequest must be false: Api reads the request from the envelope")
	}
	if h.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || h.ExtensionBundle.Version != "[4.*, 5.0.0)" {
		t.Errorf("extension bundle %+v", h.ExtensionBundle)
	}
	timeout := parseTimeSpan(t, h.FunctionTimeout)
	if timeout <= 0 || timeout > 10*time.Minute {
		t.Errorf("functionTimeout %s, want set and within the Consumption limit of 10 minutes", h.FunctionTimeout)
	}
	sb := h.Extensions.ServiceBus
	if sb.MaxConcurrentCalls < 1 || sb.MaxConcurrentCalls > 16 {
		t.Errorf("serviceBus.maxConcurrentCalls %d, want a small number (1-16) to protect ARM's limits", sb.MaxConcurrentCalls)
	}
	if sb.AutoCompleteMessages == nil || !*sb.AutoCompleteMessages {
		t.Error("serviceBus.autoCompleteMessages must be true: the handler cannot settle messages itself")
	}
	if lock := parseTimeSpan(t, sb.MaxAutoLockRenewalDuration); lock < timeout {
		t.Errorf("maxAutoLockRenewalDuration %s shorter than functionTimeout %s: a message could be redelivered while still running", sb.MaxAutoLockRenewalDuration, h.FunctionTimeout)
	}
}

// parseTimeSpan reads a .NET TimeSpan "hh:mm:ss".
func parseTimeSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	tm, err := time.Parse("15:04:05", s)
	if err != nil {
		t.Fatalf("timespan %q: %v", s, err)
	}
	return time.Duration(tm.Hour())*time.Hour + time.Duration(tm.Minute())*time.Minute + time.Duration(tm.Second())*time.Second
}

// TestSandboxSettingsRunWithoutServiceBus: local.settings.sandbox.json.example
// disables exactly the Service Bus triggered functions (the handler's
// in-process workers run their jobs), names a sandbox and a policy, keeps
// every %Setting% the enabled functions use, and documents each key.
func TestSandboxSettingsRunWithoutServiceBus(t *testing.T) {
	var ls struct {
		Values map[string]string `json:"Values"`
	}
	readJSON(t, filepath.Join("..", "local.settings.sandbox.json.example"), &ls)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "functions-host.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range readFunctionJSONs(t) {
		serviceBus := slices.ContainsFunc(f.Bindings, func(b binding) bool { return b.Type == "serviceBusTrigger" })
		if disabled := ls.Values["AzureWebJobs."+name+".Disabled"] == "true"; disabled != serviceBus {
			t.Errorf("%s: disabled %v, want %v (disable exactly the Service Bus triggered functions)", name, disabled, serviceBus)
		}
		for _, b := range f.Bindings {
			for _, field := range []string{b.QueueName, b.Schedule, b.Route} {
				for _, m := range settingRef.FindAllStringSubmatch(field, -1) {
					if _, ok := ls.Values[m[1]]; !ok {
						t.Errorf("%s: binding %s uses %%%s%%, missing from local.settings.sandbox.json.example", name, b.Name, m[1])
					}
				}
			}
		}
	}
	for _, k := range []string{envSandbox, envPolicyFile, "AzureWebJobsStorage"} {
		if ls.Values[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	if ls.Values["FUNCTIONS_WORKER_RUNTIME"] != "custom" {
		t.Errorf("FUNCTIONS_WORKER_RUNTIME=%q, want custom", ls.Values["FUNCTIONS_WORKER_RUNTIME"])
	}
	for k := range ls.Values {
		if !strings.HasPrefix(k, "AzureWebJobs.") && !strings.Contains(string(doc), "| `"+k+"` |") {
			t.Errorf("setting %s has no row in the settings table of docs/functions-host.md", k)
		}
	}
}
