package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The autopilot's ARM actions are split into three custom roles by the scope
// ARM authorizes them at (main.bicep):
//
//   - governed: assigned on each governed subscription; targets, connections,
//     endpoints, zone groups, NICs, VNets, and the operation polls of the
//     HealthcareApis and Network providers (subscription-level URLs).
//   - zones: assigned on each private DNS zone; zone reads and VNet links.
//   - zone-groups: assigned on each zone's resource group; the private DNS
//     operation status that ARM keeps there for a link write.
type roleKey string

const (
	roleGoverned   roleKey = "governed"
	roleZones      roleKey = "zones"
	roleZoneGroups roleKey = "zone-groups"
)

var roleKeys = []roleKey{roleGoverned, roleZones, roleZoneGroups}

var roleFiles = map[roleKey]string{
	roleGoverned:   "role-governed.json",
	roleZones:      "role-zones.json",
	roleZoneGroups: "role-zone-groups.json",
}

// scopeOfAction names the role an action belongs to. Private DNS zone
// actions are checked on the zone (or its children); the private DNS
// operation status lives in the zone's resource group; everything else is
// under resources anywhere in a governed subscription.
func scopeOfAction(action string) roleKey {
	a := strings.ToLower(action)
	switch {
	case strings.HasPrefix(a, "microsoft.network/privatednszones/"):
		return roleZones
	case strings.HasPrefix(a, "microsoft.network/privatednsoperation"):
		return roleZoneGroups
	default:
		return roleGoverned
	}
}

// isDNSWrite: an action that changes a DNS zone or what resolves through it.
func isDNSWrite(action string) bool {
	a := strings.ToLower(action)
	if !strings.HasPrefix(a, "microsoft.network/privatednszones/") && !strings.HasPrefix(a, "microsoft.network/dnszones/") {
		return false
	}
	return !strings.HasSuffix(a, "/read")
}

// moduleDecl is one `module` of main.bicep, as far as scopes go.
type moduleDecl struct {
	name, file string
	loopVar    string // "" when the module is not in a for loop
	loopList   string
	scope      string            // the scope: expression ("" = the deployment's)
	params     map[string]string // param -> value text
}

var (
	moduleDeclRe = regexp.MustCompile(`(?m)^module\s+(\w+)\s+'([^']+)'\s*=\s*(?:\[for\s+(?:\((\w+),\s*\w+\)|(\w+))\s+in\s+(\w+):\s*)?\{`)
	scopeLineRe  = regexp.MustCompile(`(?m)^  scope:\s*(.+)$`)
	paramLineRe  = regexp.MustCompile(`(?m)^    (\w+):\s*(.+)$`)
	varRe        = regexp.MustCompile(`(?m)^var\s+(\w+)\s*=\s*(.+)$`)
)

func mainModules(t *testing.T) (map[string]moduleDecl, map[string]string) {
	t.Helper()
	data, err := os.ReadFile("main.bicep")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	mods := map[string]moduleDecl{}
	for _, m := range moduleDeclRe.FindAllStringSubmatchIndex(text, -1) {
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return text[m[2*i]:m[2*i+1]]
		}
		body := block(text[m[1]-1:], "{")
		d := moduleDecl{name: sub(1), file: sub(2), loopVar: sub(3) + sub(4), loopList: sub(5), params: map[string]string{}}
		if s := scopeLineRe.FindStringSubmatch(body); s != nil {
			d.scope = strings.TrimSpace(s[1])
		}
		for _, p := range paramLineRe.FindAllStringSubmatch(block(body, "params:"), -1) {
			d.params[p[1]] = strings.TrimSpace(p[2])
		}
		mods[d.name] = d
	}
	vars := map[string]string{}
	for _, v := range varRe.FindAllStringSubmatch(text, -1) {
		vars[v[1]] = strings.TrimSpace(v[2])
	}
	return mods, vars
}

// assignedScope describes, for a module assigning a custom role, the scopes
// its assignments land on, as the name of the main.bicep variable that lists
// those scopes (or that of an ancestor). It knows the scope forms main.bicep
// uses; any other form fails the test, to be taught here deliberately.
func assignedScope(t *testing.T, d moduleDecl, vars map[string]string) (scopeVar string, subscriptionLevel bool) {
	t.Helper()
	switch {
	case d.scope == "subscription("+d.loopVar+")" && d.loopList == "governedSubscriptionIds":
		// /subscriptions/{sub} for each governed subscription
		return "governedScopes", true
	case d.scope == "resourceGroup(split("+d.loopVar+", '/')[2], split("+d.loopVar+", '/')[4])" && d.loopList == "zoneIds":
		// a zone's resource group (the assignment sits on the zone in it);
		// zoneResourceGroupScopes lists the resource group of every zone id
		// (checked below)
		return "zoneResourceGroupScopes", false
	case d.scope == "resourceGroup("+d.loopVar+".subscriptionId, "+d.loopVar+".resourceGroup)" && d.loopList == "zoneResourceGroups":
		return "zoneResourceGroupScopes", false
	}
	t.Errorf("main.bicep: module %s assigns a custom role at scope %q (loop %q in %q), a form this test does not know: teach assignedScope how it maps to an assignable scope", d.name, d.scope, d.loopVar, d.loopList)
	return "", false
}

// The derivations the scope variables must keep for assignedScope to hold.
var scopeVarDefs = map[string][]string{
	"governedScopes":              {"[for sub in governedSubscriptionIds: '/subscriptions/${sub}']"},
	"zoneResourceGroupScopes":     {"[for g in zoneResourceGroups: '/subscriptions/${g.subscriptionId}/resourceGroups/${g.resourceGroup}']"},
	"zoneResourceGroups":          {"union(zoneResourceGroupOfEachZone, [])"},
	"zoneResourceGroupOfEachZone": {"[for zoneId in zoneIds: {"},
}

func TestRoleAssignableScopesCoverEveryAssignment(t *testing.T) {
	mods, vars := mainModules(t)
	for v, want := range scopeVarDefs {
		if !slices0(want, vars[v]) {
			t.Errorf("main.bicep: var %s = %s; the scope check expects %v", v, vars[v], want)
		}
	}
	data, _ := os.ReadFile("main.bicep")
	// zoneResourceGroupOfEachZone takes the subscription and resource group of
	// each zone id exactly as the zone assignments' scope does.
	for _, want := range []string{"subscriptionId: toLower(split(zoneId, '/')[2])", "resourceGroup: toLower(split(zoneId, '/')[4])"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("main.bicep: zoneResourceGroupOfEachZone no longer has %q", want)
		}
	}

	roles := map[string]moduleDecl{} // role module name -> decl
	for _, d := range mods {
		if filepath.Base(d.file) == "role-definition.bicep" {
			roles[d.name] = d
		}
	}
	if len(roles) != len(roleKeys) {
		t.Fatalf("main.bicep defines %d custom roles, want %d (%v)", len(roles), len(roleKeys), roleKeys)
	}

	assignments := 0
	for _, d := range mods {
		ref, ok := d.params["roleDefinitionName"]
		if !ok {
			continue
		}
		assignments++
		roleMod := strings.TrimSuffix(ref, ".outputs.name")
		role, ok := roles[roleMod]
		if !ok {
			t.Errorf("main.bicep: module %s assigns %s, which is not a role-definition.bicep module", d.name, ref)
			continue
		}
		scopeVar, _ := assignedScope(t, d, vars)
		if scopeVar == "" {
			continue
		}
		assignable := role.params["assignableScopes"]
		if !regexp.MustCompile(`\b` + scopeVar + `\b`).MatchString(assignable) {
			t.Errorf("main.bicep: module %s assigns role %s on %s, but the role's assignableScopes (%s) do not include %s", d.name, roleMod, scopeVar, assignable, scopeVar)
		}
		checkModuleAssignsAtItsScope(t, d)
	}
	if assignments < 3 {
		t.Errorf("main.bicep assigns custom roles in %d modules, want at least 3 (governed subscriptions, zones, zone resource groups)", assignments)
	}
}

// checkModuleAssignsAtItsScope: inside a module, every role assignment sits
// at the module's scope or on an existing resource under it, never at a
// scope reached with a scope function.
func checkModuleAssignsAtItsScope(t *testing.T, d moduleDecl) {
	t.Helper()
	f := readBicep(t, d.file)
	for _, m := range regexp.MustCompile(`(?m)^resource\s+(\w+)\s+'Microsoft.Authorization/roleAssignments@[^']+'\s*=\s*\{`).FindAllStringSubmatchIndex(f.text, -1) {
		body := block(f.text[m[1]-1:], "{")
		s := scopeLineRe.FindStringSubmatch(body)
		if s == nil {
			continue // the module's own scope
		}
		target := strings.TrimSpace(s[1])
		existing := regexp.MustCompile(`(?m)^resource\s+` + regexp.QuoteMeta(target) + `\s+'[^']+'\s+existing\s*=\s*\{`)
		if !existing.MatchString(f.text) || strings.Contains(block(f.text[existing.FindStringIndex(f.text)[1]-1:], "{"), "scope:") {
			t.Errorf("%s: role assignment %s is scoped to %s, which is not an existing resource in the module's own scope", d.file, f.text[m[2]:m[3]], target)
		}
	}
}

func TestNoDNSWriteIsAssignedAtSubscriptionScope(t *testing.T) {
	mods, vars := mainModules(t)
	checked := 0
	for _, d := range mods {
		ref, ok := d.params["roleDefinitionName"]
		if !ok {
			continue
		}
		if _, subLevel := assignedScope(t, d, vars); !subLevel {
			continue
		}
		role := mods[strings.TrimSuffix(ref, ".outputs.name")]
		file := generatedFileOf(t, role.params["actions"])
		var actions []string
		data, err := os.ReadFile(filepath.Join("generated", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &actions); err != nil {
			t.Fatal(err)
		}
		checked++
		for _, a := range actions {
			if isDNSWrite(a) {
				t.Errorf("module %s assigns role %s on whole subscriptions, and it holds the DNS write %q: grant it on the zones only", d.name, role.name, a)
			}
			if scopeOfAction(a) != roleGoverned {
				t.Errorf("module %s assigns on whole subscriptions the action %q, which belongs at %s scope", d.name, a, scopeOfAction(a))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no custom role is assigned at subscription scope: the governed role must be")
	}
	// The built-in role assignments stay on the app's own resources.
	for _, p := range []string{"modules/app.bicep", "modules/servicebus.bicep", "modules/outcome-topic.bicep"} {
		f := readBicep(t, p)
		for _, m := range regexp.MustCompile(`(?m)^resource\s+\w+\s+'Microsoft.Authorization/roleAssignments@[^']+'\s*=\s*(\[for[^\n]*)?\{`).FindAllStringIndex(f.text, -1) {
			if !scopeLineRe.MatchString(block(f.text[m[1]-1:], "{")) {
				t.Errorf("%s: a built-in role assignment without scope: lands on the whole resource group", p)
			}
		}
	}
}

// generatedFileOf: the generated file a role module's actions param loads.
func generatedFileOf(t *testing.T, value string) string {
	t.Helper()
	m := regexp.MustCompile(`loadJsonContent\('generated/([^']+)'\)`).FindStringSubmatch(value)
	if m == nil {
		t.Fatalf("role actions %q are not loaded from generated/", value)
	}
	return m[1]
}

func TestRoleModulesLoadTheirGeneratedActions(t *testing.T) {
	mods, _ := mainModules(t)
	seen := map[string]bool{}
	for _, d := range mods {
		if filepath.Base(d.file) != "role-definition.bicep" {
			continue
		}
		key := roleKey(strings.Trim(d.params["roleKey"], "'"))
		want, ok := roleFiles[key]
		if !ok {
			t.Errorf("main.bicep: role module %s has roleKey %s, not one of %v", d.name, d.params["roleKey"], roleKeys)
			continue
		}
		if got := generatedFileOf(t, d.params["actions"]); got != want {
			t.Errorf("main.bicep: role %s loads generated/%s, want generated/%s", key, got, want)
		}
		seen[want] = true
	}
	if len(seen) != len(roleKeys) {
		t.Errorf("main.bicep loads %v, want every one of %v", seen, roleFiles)
	}
	role := readBicep(t, "modules/role-definition.bicep")
	if n := len(actionsRe.FindAllString(role.text, -1)); n != 1 || !contains(role.text, "actions: actions") {
		t.Errorf("modules/role-definition.bicep must grant exactly its actions parameter (found %d `actions:` entries)", n)
	}
}

func slices0(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
