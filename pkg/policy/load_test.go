package policy

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid policy; each error case appends to or edits it.
const base = `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
zones:
  - /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com
connectionRules:
  - name: allow-app
    when: endpoint.subscriptionId == "00000000-0000-0000-0000-0000000000bb"
    decision: approve
    description: ok
`

func TestBasePolicyLoads(t *testing.T) { mustParse(t, base) }

func TestLoadErrorsNameLineAndRule(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// want are substrings of the error message: the position
		// (file:line:column) and the rule's name among them.
		want []string
	}{
		{
			name: "unknown key in a rule",
			src:  base + "    colour: red\n",
			want: []string{"test.yaml:12:5:", `rule "allow-app"`, `unknown field "colour"`},
		},
		{
			name: "unknown top-level key",
			src:  base + "defaultDecison: reject\n",
			want: []string{"test.yaml:12:1:", `unknown field "defaultDecison"`},
		},
		{
			name: "CEL syntax error with its position in the file",
			src:  base + "  - name: broken\n    when: endpoint.name ==\n    decision: pending\n",
			want: []string{"test.yaml:13:", `rule "broken"`, "connectionRules[1].when", "CEL error at expression 1:", "Syntax error"},
		},
		{
			name: "misspelt variable field points at the field",
			src:  base + "  - name: typo\n    when: endpoint.subscriptionID == \"x\"\n    decision: pending\n",
			want: []string{"test.yaml:13:19:", `rule "typo"`, "undefined field 'subscriptionID'"},
		},
		{
			name: "CEL error inside a literal block",
			src:  base + "  - name: block\n    when: |\n      endpoint.readable &&\n        vnet.name == \"x\"\n    decision: pending\n",
			want: []string{"test.yaml:15:9:", `rule "block"`, "undeclared reference to 'vnet'"},
		},
		{
			name: "condition that is not a bool",
			src:  base + "  - name: not-bool\n    when: endpoint.name\n    decision: pending\n",
			want: []string{"test.yaml:13:", `rule "not-bool"`, "condition must be a bool, got string"},
		},
		{
			name: "wrong type for a boolean field",
			src:  base + "    revoke: maybe\n",
			want: []string{"test.yaml:12:13:", `rule "allow-app"`, "connectionRules[0].revoke", "expected a boolean (true or false)"},
		},
		{
			name: "wrong type for an integer setting",
			src:  base + "verification:\n  attempts: six\n",
			want: []string{"test.yaml:13:13:", "verification.attempts", "expected an integer"},
		},
		{
			name: "duplicate rule names",
			src:  base + "  - name: allow-app\n    when: \"false\"\n    decision: pending\n",
			want: []string{"test.yaml:12:", `rule "allow-app"`, "duplicate rule name (first used on line 8)"},
		},
		{
			name: "decision other than the three",
			src:  base + "  - name: maybe\n    when: \"true\"\n    decision: allow\n",
			want: []string{"test.yaml:14:", `rule "maybe"`, `"allow" is not one of approve, reject, pending`},
		},
		{
			name: "description longer than ARM allows",
			src:  base + "  - name: chatty\n    when: \"false\"\n    decision: reject\n    description: " + strings.Repeat("x", 141) + "\n",
			want: []string{"test.yaml:15:", `rule "chatty"`, "description is 141 characters; ARM allows at most 140"},
		},
		{
			name: "approve rule without description",
			src:  base + "  - name: silent\n    when: \"false\"\n    decision: approve\n",
			want: []string{"test.yaml:12:", `rule "silent"`, "needs a description"},
		},
		{
			name: "approve as default decision",
			src:  base + "defaultDecision: approve\n",
			want: []string{"test.yaml:12:", "defaultDecision", "approve is not allowed as defaultDecision", "fails closed"},
		},
		{
			name: "unknown zone in a link rule",
			src:  base + "linkRules:\n  - name: link-all\n    when: \"true\"\n    zones: [privatelink.dicom.azurehealthcareapis.com]\n",
			want: []string{"test.yaml:15:13:", `rule "link-all"`, `unknown zone "privatelink.dicom.azurehealthcareapis.com"`},
		},
		{
			name: "registration over two zones",
			src: strings.Replace(base, "zones:\n", "zones:\n  - /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.dicom.azurehealthcareapis.com\n", 1) +
				"linkRules:\n  - name: register\n    when: \"true\"\n    registrationEnabled: true\n",
			want: []string{"test.yaml:16:26:", `rule "register"`, "only one private DNS zone"},
		},
		{
			name: "vnet variable in a connection rule and endpoint in a link rule",
			src:  base + "linkRules:\n  - name: wrong-var\n    when: endpoint.readable\n",
			want: []string{"test.yaml:14:11:", `rule "wrong-var"`, "undeclared reference to 'endpoint'"},
		},
		{
			name: "revoke on an approve rule",
			src:  base + "    revoke: true\n",
			want: []string{"test.yaml:12:13:", `rule "allow-app"`, "revoke applies only to reject rules"},
		},
		{
			name: "rule without a condition",
			src:  base + "  - name: no-when\n    decision: pending\n",
			want: []string{"test.yaml:12:", `rule "no-when"`, "missing when"},
		},
		{
			name: "bad duration",
			src:  base + "verification:\n  delay: five minutes\n",
			want: []string{"test.yaml:13:10:", "verification.delay", `"five minutes" is not a duration`},
		},
		{
			name: "unsupported apiVersion",
			src:  strings.Replace(base, "autopilot.plautopilot.io/v1", "autopilot.plautopilot.io/v2", 1),
			want: []string{"test.yaml:1:13:", `unsupported apiVersion "autopilot.plautopilot.io/v2"`},
		},
		{
			name: "bad mode",
			src:  base + "mode: dry-run\n",
			want: []string{"test.yaml:12:7:", `mode "dry-run" is not one of enforce, audit`},
		},
		{
			name: "nothing governed",
			src:  strings.Replace(base, "targets:\n  subscriptions: [00000000-0000-0000-0000-0000000000aa]\n  allOfType: [workspaces]\n", "", 1),
			want: []string{"nothing is governed"},
		},
		{
			name: "duplicate key",
			src:  base + "mode: audit\nmode: enforce\n",
			want: []string{"test.yaml:13:", `mapping key "mode" already defined`},
		},
		{
			name: "YAML syntax error",
			src:  base + "  - name: [unclosed\n",
			want: []string{"test.yaml:12:"},
		},
		{
			name: "YAML tags are refused (go-yaml panicked on an empty one)",
			src:  base + "mode: ! \n",
			want: []string{"test.yaml:12:7:", "YAML tags, anchors and aliases are not allowed"},
		},
		{
			name: "anchors and aliases are refused",
			src:  base + "  - name: again\n    when: &w \"true\"\n    decision: pending\n",
			want: []string{"test.yaml:13:11:", "YAML tags, anchors and aliases are not allowed"},
		},
		{
			name: "empty file",
			src:  "# only a comment\n",
			want: []string{"the policy file is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("test.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted a bad policy:\n%s", tt.src)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with an error: a bad policy must leave nothing to act with")
			}
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Errorf("error %T is not a *LoadError with problems", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadErrorListsEveryProblem(t *testing.T) {
	src := base + "  - name: a\n    when: nope\n    decision: pending\n  - name: b\n    when: \"true\"\n    decision: allow\n"
	_, err := Parse("test.yaml", []byte(src))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want *LoadError", err)
	}
	if len(le.Problems) != 2 || le.Problems[0].Rule != "a" || le.Problems[1].Rule != "b" {
		t.Errorf("problems = %+v, want one for rule a then one for rule b", le.Problems)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func TestPublicNetworkAccessSetting(t *testing.T) {
	if got := mustParse(t, base).PublicNetworkAccess(); got != PublicAccessLeave {
		t.Fatalf("default publicNetworkAccess = %q, want leave: the autopilot must not touch public access unless asked", got)
	}
	for _, m := range []PublicAccessMode{PublicAccessLeave, PublicAccessAudit, PublicAccessDisableAfterVerification} {
		src := strings.Replace(base, "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: "+string(m)+"\n", 1)
		if got := mustParse(t, src).PublicNetworkAccess(); got != m {
			t.Errorf("publicNetworkAccess: %s loaded as %q", m, got)
		}
	}
	src := strings.Replace(base, "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: disable\n", 1)
	_, err := Parse("test.yaml", []byte(src))
	if err == nil {
		t.Fatal("publicNetworkAccess: disable was accepted")
	}
	for _, want := range []string{"targets.publicNetworkAccess", `"disable"`, "leave, audit, disableAfterVerification"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
