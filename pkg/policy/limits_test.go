package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const boundsHeader = `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
`

// nestedFlowPolicy is a policy whose targets.ids is n nested flow lists:
// the shape that took seconds and gigabytes to refuse.
func nestedFlowPolicy(n int) []byte {
	return []byte(boundsHeader + "connectionRules:\n  - name: x\n    when: \"true\"\n    decision: pending\n    extra: " +
		strings.Repeat("[", n) + strings.Repeat("]", n) + "\n")
}

// nestedBlockPolicy nests n compact block sequences on one line.
func nestedBlockPolicy(n int) []byte {
	return []byte(boundsHeader + "zones:\n  " + strings.Repeat("- ", n) + "x\n")
}

func ruleWhen(name, when string) []byte {
	return []byte(boundsHeader + fmt.Sprintf("connectionRules:\n  - name: %s\n    when: '%s'\n    decision: approve\n    description: ok\n", name, when))
}

// sevenAlls is seven nested comprehensions over ten items: 10^7 iterations
// per decision (7 s before the bound).
var sevenAlls = func() string {
	l := "[0,1,2,3,4,5,6,7,8,9]"
	expr := "true"
	for i := 6; i >= 0; i-- {
		expr = fmt.Sprintf("%s.all(v%d, %s)", l, i, expr)
	}
	return expr
}()

// sevenReplaces grows the endpoint name a hundredfold seven times.
var sevenReplaces = "endpoint.name" + strings.Repeat(`.replace("", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")`, 7) + ` == ""`

func loadErr(t *testing.T, src []byte) *LoadError {
	t.Helper()
	p, err := Parse("bomb.yaml", src)
	if p != nil || err == nil {
		t.Fatalf("policy loaded, want it refused")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %T %v, want *LoadError", err, err)
	}
	return le
}

func TestNestingBombRefusedBeforeParsing(t *testing.T) {
	for name, src := range map[string][]byte{
		"20000 nested flow lists":      nestedFlowPolicy(20000),
		"20000 nested block sequences": nestedBlockPolicy(20000),
		"nested flow maps":             []byte(boundsHeader + "x: " + strings.Repeat("{a: ", 5000) + "1" + strings.Repeat("}", 5000) + "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			le := loadErr(t, src)
			if !strings.Contains(le.Error(), "nesting deeper than 64 levels") {
				t.Errorf("error %q does not say the nesting is too deep", le)
			}
			if le.Problems[0].Line == 0 {
				t.Errorf("error %q names no line", le)
			}
		})
	}
}

func TestTooLargePolicyRefused(t *testing.T) {
	src := append([]byte(boundsHeader+"# "), make([]byte, MaxPolicyBytes)...)
	le := loadErr(t, src)
	if !strings.Contains(le.Error(), "more than the limit of 65536 bytes") {
		t.Errorf("error %q does not name the size limit", le)
	}
	// Load reads no more than the limit of a huge file and refuses it.
	path := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(path, append([]byte(boundsHeader), make([]byte, 4*MaxPolicyBytes)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("Load of a 4 MiB file: %v, want the size limit", err)
	}
}

func TestOrdinaryNestingStillLoads(t *testing.T) {
	// The example policy, block scalars holding brackets, and a quoted
	// description with a stray bracket all load.
	examplePolicy(t)
	mustParse(t, boundsHeader+`connectionRules:
  - name: literal
    when: |
      endpoint.subscriptionId in ["00000000-0000-0000-0000-0000000000bb"]
      && cidrsWithin(endpoint.vnetAddressPrefixes, ["10.0.0.0/8", "172.16.0.0/12"])
    decision: approve
    description: "approved [see wiki"
  - name: folded
    when: >-
      has(endpoint.tags.owner) && endpoint.tags["owner"] == "x"
    decision: pending # comment [[[[
`)
}

func TestCELBombsRefusedAtLoadNamingTheRule(t *testing.T) {
	for name, when := range map[string]string{
		"seven nested all":          sevenAlls,
		"seven chained replace":     sevenReplaces,
		"nested all over VNet data": `endpoint.vnetAddressPrefixes.all(a, endpoint.vnetAddressPrefixes.all(b, endpoint.vnetAddressPrefixes.all(c, a == b && b == c)))`,
	} {
		t.Run(name, func(t *testing.T) {
			le := loadErr(t, ruleWhen("bomb-rule", when))
			if len(le.Problems) != 1 || le.Problems[0].Rule != "bomb-rule" {
				t.Fatalf("problems %+v, want one naming rule bomb-rule", le.Problems)
			}
			if !strings.Contains(le.Problems[0].Msg, "too costly") || !strings.Contains(le.Error(), `rule "bomb-rule"`) {
				t.Errorf("error %q does not say the rule is too costly", le)
			}
		})
	}
}

func TestOrdinaryRulesPassTheCostEstimate(t *testing.T) {
	mustParse(t, string(ruleWhen("comprehension", `endpoint.vnetAddressPrefixes.all(p, cidrContains("10.0.0.0/8", p)) && endpoint.name.matches("^pe-[a-z]+$")`)))
}

// A value far larger than the static estimate assumed (100,000 address
// prefixes) is stopped by the runtime cost and memory limits: the rule errs, does not
// match, and nothing is approved.
func TestRuntimeCostLimitStopsAnEvaluation(t *testing.T) {
	p := mustParse(t, string(ruleWhen("scan", `endpoint.vnetAddressPrefixes.all(p, p.startsWith("10.") && cidrContains("10.0.0.0/8", p))`)))
	prefixes := make([]string, 100_000)
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf("10.%d.%d.0/24", i/256%256, i%256)
	}
	in := readableInput(subApp, prefixes...)
	d, err := p.DecideConnection(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Action == ActionApprove {
		t.Fatalf("approved by %s, want the over-budget rule not to match", d.Rule)
	}
	if !strings.Contains(d.Reason, "limit exceeded") {
		t.Errorf("reason %q does not say a limit stopped the rule", d.Reason)
	}
}

// BenchmarkRefuseBombs: each refusal must take well under 100 ms (ns/op).
func BenchmarkRefuseBombs(b *testing.B) {
	bombs := map[string][]byte{
		"nested-20000":  nestedFlowPolicy(20000),
		"seven-all":     ruleWhen("bomb", sevenAlls),
		"seven-replace": ruleWhen("bomb", sevenReplaces),
		// the costliest shape the size limit lets through to the parser
		"flat-64KiB": []byte(boundsHeader + "zones: [" + strings.Repeat("a, ", (MaxPolicyBytes-200)/3) + "[a]]\n"),
	}
	for name, src := range quoteHiddenPolicies() { // issue 26: under 2 s and 300 MB
		bombs["quote-hidden "+name] = src
	}
	for name, src := range bombs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, err := Parse("bomb.yaml", src); p != nil || err == nil {
					b.Fatal("loaded")
				}
			}
			if per := b.Elapsed() / time.Duration(b.N); per > 100*time.Millisecond && name != "flat-64KiB" {
				b.Errorf("refusal takes %s, want < 100ms", per)
			}
		})
	}
}

func TestWarningsForRequesterAlone(t *testing.T) {
	p := mustParse(t, boundsHeader+`connectionRules:
  - name: alone
    when: requester.known && requester.tenantId == "t" && requester.upn.endsWith("@contoso.example")
    decision: approve
    description: ok
  - name: with-endpoint
    when: requester.known && endpoint.subscriptionId == "x"
    decision: approve
    description: ok
  - name: pending-alone
    when: '!requester.known'
    decision: pending
`)
	ws := p.Warnings()
	if len(ws) != 1 || ws[0].Rule != "alone" || !strings.Contains(ws[0].Msg, "requester alone") {
		t.Errorf("warnings %+v; want one for rule alone", ws)
	}
	if len(examplePolicy(t).Warnings()) != 0 {
		t.Errorf("the example policy has warnings: %+v", examplePolicy(t).Warnings())
	}
}
