package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The post-deploy hook (scripts/postdeploy-eventgrid.sh) runs here against a
// fake `az` on PATH: this test binary, re-executed, answering `az rest` from
// a small ARM kept in a JSON file and recording every call. The fake refuses
// what ARM refuses and matters here: a child whose parent does not exist, and
// an Azure Function destination whose function is not deployed.

const hookScript = "../scripts/postdeploy-eventgrid.sh"

const fakeAzStateEnv = "AUTOPILOT_FAKE_AZ_STATE"

// fakeAppearEnv names a resource the fake creates right after it refused an
// event subscription for a missing destination (a function that is being
// indexed).
const fakeAppearEnv = "AUTOPILOT_FAKE_AZ_APPEARS"

func TestMain(m *testing.M) {
	if state := os.Getenv(fakeAzStateEnv); state != "" {
		os.Exit(fakeAz(state, os.Args[1:]))
	}
	os.Exit(m.Run())
}

type fakeARM struct {
	Resources map[string]map[string]any `json:"resources"` // lower-case id -> resource
	Calls     []fakeCall                `json:"calls"`
}

type fakeCall struct {
	Method string         `json:"method"`
	URL    string         `json:"url"`
	Query  string         `json:"query,omitempty"`
	Body   map[string]any `json:"body,omitempty"`
}

func loadARM(path string) (*fakeARM, error) {
	a := &fakeARM{Resources: map[string]map[string]any{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, a); err != nil {
		return nil, err
	}
	if a.Resources == nil {
		a.Resources = map[string]map[string]any{}
	}
	return a, nil
}

func (a *fakeARM) save(path string) error {
	data, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func armError(status, code, msg string) int {
	fmt.Fprintf(os.Stderr, "ERROR: %s({\"error\":{\"code\":%q,\"message\":%q}})\n", status, code, msg)
	return 1
}

// fakeAz implements `az rest` (get, put, patch, delete) on the state file.
func fakeAz(statePath string, args []string) int {
	if len(args) == 0 || args[0] != "rest" {
		fmt.Fprintf(os.Stderr, "fake az: only `az rest` is modelled, got %q\n", args)
		return 2
	}
	opts := map[string]string{}
	for i := 1; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") || i+1 >= len(args) {
			fmt.Fprintf(os.Stderr, "fake az: unexpected argument %q\n", args[i])
			return 2
		}
		key := strings.TrimLeft(args[i], "-")
		switch key {
		case "m":
			key = "method"
		case "u":
			key = "url"
		case "b":
			key = "body"
		case "o":
			key = "output"
		}
		opts[key] = args[i+1]
		i++
	}
	arm, err := loadARM(statePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake az:", err)
		return 2
	}
	call := fakeCall{Method: strings.ToUpper(opts["method"]), URL: opts["url"], Query: opts["query"]}
	if b := opts["body"]; b != "" {
		data := []byte(b)
		if strings.HasPrefix(b, "@") {
			if data, err = os.ReadFile(b[1:]); err != nil {
				fmt.Fprintln(os.Stderr, "fake az:", err)
				return 2
			}
		}
		if err := json.Unmarshal(data, &call.Body); err != nil {
			return armError("Bad Request", "InvalidRequestContent", "the body is not JSON: "+err.Error())
		}
	}
	arm.Calls = append(arm.Calls, call)
	defer func() {
		if err := arm.save(statePath); err != nil {
			fmt.Fprintln(os.Stderr, "fake az:", err)
		}
	}()

	path, rawQuery, _ := strings.Cut(call.URL, "?")
	if !strings.HasPrefix(path, "/subscriptions/") {
		return armError("Bad Request", "InvalidURL", "fake ARM expects a relative /subscriptions/... URL: "+call.URL)
	}
	if !strings.Contains(rawQuery, "api-version=") {
		return armError("Bad Request", "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	key := strings.ToLower(path)
	parent := key[:strings.LastIndex(key, "/")]
	segs := strings.Split(strings.Trim(key, "/"), "/")

	var result any
	switch call.Method {
	case "GET":
		if strings.HasSuffix(key, "/providers/microsoft.eventgrid/systemtopics") {
			var list []any
			var ids []string
			topicRe := regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(key, "/providers/microsoft.eventgrid/systemtopics")) +
				"/resourcegroups/[^/]+/providers/microsoft.eventgrid/systemtopics/[^/]+$")
			for id := range arm.Resources {
				if topicRe.MatchString(id) {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			for _, id := range ids {
				list = append(list, arm.Resources[id])
			}
			result = map[string]any{"value": list}
			break
		}
		r, ok := arm.Resources[key]
		if !ok {
			return armError("Not Found", "ResourceNotFound", "The Resource '"+path+"' was not found.")
		}
		result = r
	case "PUT":
		if len(segs) > 4 { // below a resource group: the parent must exist
			p := parent
			if strings.HasSuffix(p, "/eventsubscriptions") {
				p = strings.TrimSuffix(p, "/eventsubscriptions")
			} else {
				p = strings.Join(strings.Split(key, "/")[:5], "/")
			}
			if _, ok := arm.Resources[p]; !ok {
				return armError("Not Found", "ParentResourceNotFound", "parent "+p+" of "+path+" does not exist")
			}
		}
		if strings.Contains(key, "/eventsubscriptions/") {
			fn := dig(call.Body, "properties", "destination", "properties", "resourceId")
			s, _ := fn.(string)
			if _, ok := arm.Resources[strings.ToLower(s)]; !ok {
				if appear := os.Getenv(fakeAppearEnv); appear != "" {
					arm.Resources[strings.ToLower(appear)] = map[string]any{"id": appear}
				}
				return armError("Bad Request", "BadRequest", "Destination endpoint not found. Resource details: resourceId: "+s)
			}
		}
		r := call.Body
		r["id"] = path
		r["name"] = path[strings.LastIndex(path, "/")+1:]
		props, _ := r["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			r["properties"] = props
		}
		props["provisioningState"] = "Succeeded"
		arm.Resources[key] = r
	case "PATCH":
		r, ok := arm.Resources[key]
		if !ok {
			return armError("Not Found", "ResourceNotFound", "The Resource '"+path+"' was not found.")
		}
		for k, v := range call.Body {
			r[k] = v
		}
	case "DELETE":
		delete(arm.Resources, key)
	default:
		return armError("Bad Request", "BadRequest", "method "+call.Method)
	}

	if q := opts["query"]; q != "" && result != nil {
		if result, err = jmes(result, q); err != nil {
			fmt.Fprintln(os.Stderr, "fake az:", err)
			return 2
		}
	}
	switch opts["output"] {
	case "none":
	case "tsv":
		printTSV(result)
	default:
		if result != nil {
			data, _ := json.MarshalIndent(result, "", "  ")
			fmt.Println(string(data))
		}
	}
	return 0
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

var (
	filterRe = regexp.MustCompile(`^(\w+)\[\?([\w.]+)=='([^']*)'\]\.([\w.]+)$`)
	keysRe   = regexp.MustCompile("^keys\\(([\\w.]+) \\|\\| `\\{\\}`\\)$")
	pathRe   = regexp.MustCompile(`^[\w]+(\.[\w]+)*$`)
)

// jmes evaluates the JMESPath forms the hook uses: a dotted path, a filter
// projection list[?a.b=='v'].c, and keys(a.b || `{}`).
func jmes(v any, q string) (any, error) {
	if m := filterRe.FindStringSubmatch(q); m != nil {
		list, _ := dig(v, m[1]).([]any)
		var out []any
		for _, e := range list {
			if s, _ := dig(e, strings.Split(m[2], ".")...).(string); s == m[3] {
				out = append(out, dig(e, strings.Split(m[4], ".")...))
			}
		}
		return out, nil
	}
	if m := keysRe.FindStringSubmatch(q); m != nil {
		obj, _ := dig(v, strings.Split(m[1], ".")...).(map[string]any)
		keys := []any{}
		var names []string
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			keys = append(keys, k)
		}
		return keys, nil
	}
	if pathRe.MatchString(q) {
		return dig(v, strings.Split(q, ".")...), nil
	}
	return nil, fmt.Errorf("--query %q is not a form the fake models", q)
}

func printTSV(v any) {
	switch x := v.(type) {
	case nil:
	case []any:
		for _, e := range x {
			printTSV(e)
		}
	case string:
		fmt.Println(x)
	default:
		data, _ := json.Marshal(x)
		fmt.Println(string(data))
	}
}

// --- the test harness -------------------------------------------------------

const (
	subA        = "11111111-1111-1111-1111-111111111111"
	subB        = "22222222-2222-2222-2222-222222222222"
	appRG       = "/subscriptions/" + subA + "/resourceGroups/rg-dev"
	functionID  = appRG + "/providers/Microsoft.Web/sites/func-autopilot-x/functions/ResourceEvents"
	storageID   = appRG + "/providers/Microsoft.Storage/storageAccounts/stautopilotx"
	dlIdentity  = appRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-autopilot-eg-x"
	egAPI       = "2025-02-15"
	defenderRG  = "/subscriptions/" + subB + "/resourceGroups/rg-security"
	defenderTop = defenderRG + "/providers/Microsoft.EventGrid/systemTopics/defender-sub-events"
)

type hookRun struct {
	t     *testing.T
	dir   string
	state string
	env   map[string]string
	shell string // sh by default; macOS runs sh as bash
}

func newHookRun(t *testing.T, existing map[string]map[string]any) *hookRun {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %q \"$@\"\n", exe)
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	arm := &fakeARM{Resources: map[string]map[string]any{}}
	// The deployed code: the function the event subscription points at.
	arm.Resources[strings.ToLower(functionID)] = map[string]any{"id": functionID}
	for id, r := range existing {
		arm.Resources[strings.ToLower(id)] = r
	}
	h := &hookRun{t: t, dir: dir, state: filepath.Join(dir, "arm.json"), shell: "sh"}
	if err := arm.save(h.state); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{
		"PATH":                                bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		fakeAzStateEnv:                        h.state,
		"TMPDIR":                              dir,
		"AZURE_ENV_NAME":                      "dev",
		"AZURE_LOCATION":                      "westeurope",
		"AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS": subA,
		"AUTOPILOT_EVENT_FUNCTION_ID":         functionID,
		"AUTOPILOT_DEADLETTER_STORAGE_ID":     storageID,
		"AUTOPILOT_DEADLETTER_CONTAINER":      "eventgrid-deadletter",
		"AUTOPILOT_DEADLETTER_IDENTITY_ID":    dlIdentity,
		"AUTOPILOT_HOOK_POLL_SECONDS":         "0",
	}
	return h
}

// run runs the hook once and returns the calls it made and its stderr.
func (h *hookRun) run(args ...string) ([]fakeCall, string, error) {
	h.t.Helper()
	before, err := loadARM(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(h.shell, append([]string{hookScript}, args...)...)
	cmd.Env = []string{"HOME=" + h.dir}
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, runErr := cmd.CombinedOutput()
	after, err := loadARM(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	return after.Calls[len(before.Calls):], string(out), runErr
}

func (h *hookRun) mustRun(args ...string) []fakeCall {
	h.t.Helper()
	calls, out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("hook failed: %v\n%s", err, out)
	}
	return calls
}

func (h *hookRun) resource(id string) map[string]any {
	h.t.Helper()
	arm, err := loadARM(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	return arm.Resources[strings.ToLower(id)]
}

func (h *hookRun) resources() map[string]map[string]any {
	h.t.Helper()
	arm, err := loadARM(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	return arm.Resources
}

func writes(calls []fakeCall) []string {
	var out []string
	for _, c := range calls {
		if c.Method != "GET" {
			path, _, _ := strings.Cut(c.URL, "?")
			out = append(out, c.Method+" "+path)
		}
	}
	return out
}

func esID(topic, env string) string { return topic + "/eventSubscriptions/autopilot-" + env }

// checkEventSubscription: the subscription a user needs: the function as
// destination, the classified operations as filter, keyless dead-lettering
// with the topic's user-assigned identity.
func checkEventSubscription(t *testing.T, es map[string]any) {
	t.Helper()
	if es == nil {
		t.Fatal("event subscription not created")
	}
	if got := dig(es, "properties", "destination", "endpointType"); got != "AzureFunction" {
		t.Errorf("destination type %v, want AzureFunction", got)
	}
	if got := dig(es, "properties", "destination", "properties", "resourceId"); got != functionID {
		t.Errorf("destination %v, want the ResourceEvents function", got)
	}
	if got := dig(es, "properties", "eventDeliverySchema"); got != "CloudEventSchemaV1_0" {
		t.Errorf("schema %v", got)
	}
	var ops []any
	data, err := os.ReadFile("generated/event-operations.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ops); err != nil {
		t.Fatal(err)
	}
	filters, _ := dig(es, "properties", "filter", "advancedFilters").([]any)
	if len(filters) != 1 || dig(filters[0], "key") != "data.operationName" || dig(filters[0], "operatorType") != "StringIn" {
		t.Fatalf("advanced filters %v, want one StringIn on data.operationName", filters)
	}
	if diff := cmp.Diff(ops, dig(filters[0], "values")); diff != "" {
		t.Errorf("filter values differ from generated/event-operations.json (-want +got)\n%s", diff)
	}
	dl := dig(es, "properties", "deadLetterWithResourceIdentity")
	if dig(dl, "identity", "type") != "UserAssigned" || dig(dl, "identity", "userAssignedIdentity") != dlIdentity {
		t.Errorf("dead-letter identity %v, want the user-assigned %s", dig(dl, "identity"), dlIdentity)
	}
	if dig(dl, "deadLetterDestination", "properties", "resourceId") != storageID ||
		dig(dl, "deadLetterDestination", "properties", "blobContainerName") != "eventgrid-deadletter" {
		t.Errorf("dead-letter destination %v", dig(dl, "deadLetterDestination"))
	}
	if dig(es, "properties", "deadLetterDestination") != nil {
		t.Error("deadLetterDestination (key-based) is set: the storage account takes no shared keys")
	}
}

func hasIdentity(topic map[string]any, id string) bool {
	uai, _ := dig(topic, "identity", "userAssignedIdentities").(map[string]any)
	for k := range uai {
		if strings.EqualFold(k, id) {
			return true
		}
	}
	return false
}

func TestHookScriptParses(t *testing.T) {
	for _, sh := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(sh); err != nil {
			t.Logf("%s not installed", sh)
			continue
		}
		if out, err := exec.Command(sh, "-n", hookScript).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", sh, hookScript, err, out)
		}
	}
	yaml, err := os.ReadFile("../azure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// azure.yaml: a project-level postdeploy hook (after every service is
	// deployed) running this script with a POSIX shell.
	re := regexp.MustCompile(`(?m)^hooks:\n  postdeploy:\n    posix:\n      shell: sh\n      run: \./scripts/postdeploy-eventgrid\.sh\n`)
	if !re.Match(yaml) {
		t.Errorf("azure.yaml has no project-level postdeploy hook running ./scripts/postdeploy-eventgrid.sh with shell sh:\n%s", yaml)
	}
}

// shells: the POSIX shells to run the hook with (Debian's sh is dash; macOS's
// is bash).
func shells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(sh); err == nil {
			out = append(out, sh)
		}
	}
	if len(out) == 0 {
		t.Skip("no sh or bash")
	}
	return out
}

func TestHookCreatesTopicWhenSubscriptionHasNone(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh, func(t *testing.T) { testHookCreatesTopic(t, sh) })
	}
}

func testHookCreatesTopic(t *testing.T, shell string) {
	h := newHookRun(t, nil)
	h.shell = shell
	calls := h.mustRun()
	topic := "/subscriptions/" + subA + "/resourceGroups/rg-autopilot-events/providers/Microsoft.EventGrid/systemTopics/autopilot-subscription-events"
	want := []string{
		"PUT /subscriptions/" + subA + "/resourceGroups/rg-autopilot-events",
		"PUT " + topic,
		"PUT " + esID(topic, "dev"),
	}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("writes (-want +got)\n%s", diff)
	}
	tp := h.resource(topic)
	if dig(tp, "properties", "topicType") != "Microsoft.Resources.Subscriptions" || dig(tp, "properties", "source") != "/subscriptions/"+subA || dig(tp, "location") != "global" {
		t.Errorf("topic %v", tp)
	}
	if !hasIdentity(tp, dlIdentity) || dig(tp, "identity", "type") != "UserAssigned" {
		t.Errorf("new topic's identity %v, want the dead-letter identity", dig(tp, "identity"))
	}
	if dig(h.resource("/subscriptions/"+subA+"/resourceGroups/rg-autopilot-events"), "location") != "westeurope" {
		t.Error("events resource group not created in AZURE_LOCATION")
	}
	checkEventSubscription(t, h.resource(esID(topic, "dev")))
}

func TestHookReusesAnExistingTopic(t *testing.T) {
	for _, sh := range shells(t) {
		t.Run(sh, func(t *testing.T) { testHookReusesTopic(t, sh) })
	}
}

func testHookReusesTopic(t *testing.T, shell string) {
	// Subscription B already has a system topic (Defender's), with its own
	// system-assigned identity and event subscription.
	other := defenderTop + "/eventSubscriptions/defender"
	h := newHookRun(t, map[string]map[string]any{
		defenderRG: {"id": defenderRG, "location": "eastus"},
		defenderTop: {
			"id": defenderTop, "name": "defender-sub-events", "location": "global",
			"identity":   map[string]any{"type": "SystemAssigned", "principalId": "p"},
			"properties": map[string]any{"source": "/subscriptions/" + subB, "topicType": "Microsoft.Resources.Subscriptions", "provisioningState": "Succeeded"},
		},
		other: {"id": other, "properties": map[string]any{"provisioningState": "Succeeded"}},
	})
	h.shell = shell
	h.env["AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS"] = subB
	calls := h.mustRun()
	want := []string{"PATCH " + defenderTop, "PUT " + esID(defenderTop, "dev")}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("writes (-want +got): no new topic, no resource group\n%s", diff)
	}
	tp := h.resource(defenderTop)
	if dig(tp, "identity", "type") != "SystemAssigned, UserAssigned" || !hasIdentity(tp, dlIdentity) {
		t.Errorf("topic identity %v, want its system identity kept and the dead-letter identity added", dig(tp, "identity"))
	}
	if h.resource(other) == nil {
		t.Error("the topic's other event subscription was removed")
	}
	checkEventSubscription(t, h.resource(esID(defenderTop, "dev")))
}

func TestHookRerunAndSecondEnvironment(t *testing.T) {
	h := newHookRun(t, nil)
	h.env["AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS"] = subA + "," + subB
	h.mustRun()
	first := h.resources()

	// Rerun: nothing is created again; only the two event subscriptions are
	// PUT again (idempotent: the same body), and ARM is unchanged.
	calls := h.mustRun()
	topicA := "/subscriptions/" + subA + "/resourceGroups/rg-autopilot-events/providers/Microsoft.EventGrid/systemTopics/autopilot-subscription-events"
	topicB := "/subscriptions/" + subB + "/resourceGroups/rg-autopilot-events/providers/Microsoft.EventGrid/systemTopics/autopilot-subscription-events"
	want := []string{"PUT " + esID(topicA, "dev"), "PUT " + esID(topicB, "dev")}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("rerun writes (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(first, h.resources()); diff != "" {
		t.Errorf("rerun changed ARM (-first +rerun)\n%s", diff)
	}

	// A second environment in the same subscriptions shares the topics.
	h.env["AZURE_ENV_NAME"] = "staging"
	calls = h.mustRun()
	want = []string{"PUT " + esID(topicA, "staging"), "PUT " + esID(topicB, "staging")}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("second environment writes (-want +got)\n%s", diff)
	}
	checkEventSubscription(t, h.resource(esID(topicA, "staging")))
	checkEventSubscription(t, h.resource(esID(topicA, "dev")))

	// --remove takes away this environment's subscriptions only.
	calls = h.mustRun("--remove")
	want = []string{"DELETE " + esID(topicA, "staging"), "DELETE " + esID(topicB, "staging")}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("--remove writes (-want +got)\n%s", diff)
	}
	if h.resource(esID(topicA, "dev")) == nil || h.resource(topicA) == nil {
		t.Error("--remove touched another environment's subscription or the topic")
	}
	if calls = h.mustRun("--remove"); len(writes(calls)) != 0 {
		t.Errorf("second --remove wrote %v", writes(calls))
	}
}

func TestHookUsesTheGivenTopic(t *testing.T) {
	h := newHookRun(t, map[string]map[string]any{
		defenderRG: {"id": defenderRG},
		defenderTop: {"id": defenderTop, "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{dlIdentity: map[string]any{}}},
			"properties": map[string]any{"topicType": "Microsoft.Resources.Subscriptions", "provisioningState": "Succeeded"}},
	})
	h.env["AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS"] = subB
	h.env["AUTOPILOT_SYSTEM_TOPIC_IDS"] = defenderTop
	calls := h.mustRun()
	for _, c := range calls {
		if strings.HasSuffix(strings.SplitN(c.URL, "?", 2)[0], "/systemTopics") {
			t.Errorf("listed topics although one was given: %s", c.URL)
		}
	}
	if diff := cmp.Diff([]string{"PUT " + esID(defenderTop, "dev")}, writes(calls)); diff != "" {
		t.Errorf("writes (-want +got): the identity is already on the topic\n%s", diff)
	}
}

func TestHookBeforeTheCodeIsDeployed(t *testing.T) {
	h := newHookRun(t, nil)
	h.env["AUTOPILOT_EVENT_FUNCTION_ID"] = appRG + "/providers/Microsoft.Web/sites/func-autopilot-x/functions/NotDeployed"
	h.env["AUTOPILOT_HOOK_ENDPOINT_TRIES"] = "3"
	calls, out, err := h.run()
	if err == nil {
		t.Fatal("the hook succeeded although the function does not exist")
	}
	if !strings.Contains(out, "Destination endpoint not found") || !strings.Contains(out, "eventSubscriptions/autopilot-dev") ||
		!strings.Contains(out, "is the code deployed?") {
		t.Errorf("output does not say which write failed and why:\n%s", out)
	}
	puts := 0
	for _, w := range writes(calls) {
		if strings.HasSuffix(w, "/eventSubscriptions/autopilot-dev") {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("the event subscription was tried %d times, want 3 (AUTOPILOT_HOOK_ENDPOINT_TRIES)", puts)
	}
}

func TestHookWaitsForTheFunctionToAppear(t *testing.T) {
	// The function shows up while the hook retries (as after a fresh zip
	// deploy): the fake makes it appear after the first refusal.
	h := newHookRun(t, nil)
	arm, err := loadARM(h.state)
	if err != nil {
		t.Fatal(err)
	}
	delete(arm.Resources, strings.ToLower(functionID))
	if err := arm.save(h.state); err != nil {
		t.Fatal(err)
	}
	h.env[fakeAppearEnv] = functionID
	h.mustRun()
	checkEventSubscription(t, h.resource(esID("/subscriptions/"+subA+"/resourceGroups/rg-autopilot-events/providers/Microsoft.EventGrid/systemTopics/autopilot-subscription-events", "dev")))
}

func TestHookRejectsBadInput(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"missing function", "AUTOPILOT_EVENT_FUNCTION_ID", "", "AUTOPILOT_EVENT_FUNCTION_ID is not set"},
		{"missing subscriptions", "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS", "", "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS is not set"},
		{"not a guid", "AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS", subA + ",contoso-prod", "'contoso-prod' is not a subscription id"},
		{"bad topic id", "AUTOPILOT_SYSTEM_TOPIC_IDS", "/subscriptions/" + subA + "/topics/x", "is not a system topic resource id"},
		{"bad env name", "AZURE_ENV_NAME", "dev env", "may hold only letters, digits and hyphens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHookRun(t, nil)
			h.env[c.key] = c.value
			calls, out, err := h.run()
			if err == nil {
				t.Fatalf("hook accepted %s=%q", c.key, c.value)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output %q does not contain %q", out, c.want)
			}
			if w := writes(calls); len(w) != 0 {
				t.Errorf("bad input still wrote %v", w)
			}
		})
	}
	h := newHookRun(t, nil)
	if _, out, err := h.run("--frobnicate"); err == nil || !strings.Contains(out, "unknown argument '--frobnicate'") {
		t.Errorf("unknown flag: err=%v out=%s", err, out)
	}
}

func TestHookRetiresTheEarlierBicepSubscription(t *testing.T) {
	// An environment deployed by an earlier version: Bicep made the topic
	// evgst-autopilot-dev and its subscription autopilot-resource-events.
	rg := "/subscriptions/" + subA + "/resourceGroups/rg-dev-events"
	topic := rg + "/providers/Microsoft.EventGrid/systemTopics/evgst-autopilot-dev"
	old := topic + "/eventSubscriptions/autopilot-resource-events"
	h := newHookRun(t, map[string]map[string]any{
		rg:    {"id": rg},
		topic: {"id": topic, "properties": map[string]any{"topicType": "Microsoft.Resources.Subscriptions", "provisioningState": "Succeeded"}},
		old:   {"id": old, "properties": map[string]any{"provisioningState": "Succeeded"}},
	})
	calls := h.mustRun()
	want := []string{"PATCH " + topic, "PUT " + esID(topic, "dev"), "DELETE " + old}
	if diff := cmp.Diff(want, writes(calls)); diff != "" {
		t.Errorf("writes (-want +got): the old subscription goes after the new one exists\n%s", diff)
	}
	if h.resource(old) != nil {
		t.Error("autopilot-resource-events still delivers every event a second time")
	}

	// Another environment's topic keeps a subscription of that name.
	h.env["AZURE_ENV_NAME"] = "staging"
	arm, err := loadARM(h.state)
	if err != nil {
		t.Fatal(err)
	}
	arm.Resources[strings.ToLower(old)] = map[string]any{"id": old}
	if err := arm.save(h.state); err != nil {
		t.Fatal(err)
	}
	h.mustRun()
	if h.resource(old) == nil {
		t.Error("deleted autopilot-resource-events on a topic of another environment")
	}
}
