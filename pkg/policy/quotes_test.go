package policy

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// quoteHiddenPolicies are issue 26's bypass of the old line scanner, each
// about 63 KB: a stray quote inside a plain scalar switched it into quoted
// mode for the rest of the file, so the nesting after it went uncounted and
// go-yaml spent seconds and gigabytes on it.
func quoteHiddenPolicies() map[string][]byte {
	const size = 63 << 10
	head := boundsHeader + "connectionRules:\n  - name: rock 'n roll\n    decision: pending\n    when: "
	n := (size - len(head)) / 2
	flow := head + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"

	dq := boundsHeader + "connectionRules:\n  - name: say \"hi\n    decision: pending\n    when: "
	m := (size - len(dq)) / 5
	flowMaps := dq + strings.Repeat("{a: ", m) + "1" + strings.Repeat("}", m) + "\n"

	var b strings.Builder
	b.WriteString(boundsHeader + "connectionRules:\n  - name: it 's\n    decision: pending\n    extra:\n")
	for i := 6; b.Len() < size; i++ {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	// quotes that open and close where the line scanner did not expect them
	comment := boundsHeader + "zones: ['a' # ']\n  " + strings.Repeat("[", n-40) + strings.Repeat("]", n-40) + "]\n"
	return map[string][]byte{
		"stray ' then flow lists":  []byte(flow),
		"stray \" then flow maps":  []byte(flowMaps),
		"stray ' then block keys":  []byte(b.String()),
		"quote and comment tricks": []byte(comment),
	}
}

// The quote-hidden nesting is refused before the parser runs, naming the
// depth, within a bounded memory cost: the bytes allocated by the whole
// refusal (an upper bound of its peak) stay under the 300 MB and in
// fact under 64 MB. The time is BenchmarkRefuseBombs' (well under 2 s: tens
// of milliseconds).
func TestQuoteHiddenNestingRefusedCheaply(t *testing.T) {
	for name, src := range quoteHiddenPolicies() {
		t.Run(name, func(t *testing.T) {
			if len(src) > MaxPolicyBytes || len(src) < 60<<10 {
				t.Fatalf("bomb is %d bytes; want about 63 KB, within the size limit", len(src))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			le := loadErr(t, src)
			runtime.ReadMemStats(&after)
			if !strings.Contains(le.Error(), "nesting deeper than 64 levels") || le.Problems[0].Line == 0 {
				t.Errorf("error %q does not name the nesting and the line", le)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("refusing it allocated %d MB; want under 64 MB (the issue's bound is 300 MB)", alloc>>20)
			}
		})
	}
}

// Quotes, comments and block scalars holding brackets still load: the
// tokens the count uses are the parser's.
func TestBracketsInsideScalarsDoNotCount(t *testing.T) {
	many := strings.Repeat(`  - name: r`+"%d\n"+`    when: 'endpoint.name in ["[[[[[", "{{{{"]'`+"\n"+`    decision: pending # [[[[[[[[[[
`, 1)
	var b strings.Builder
	b.WriteString(boundsHeader + "connectionRules:\n")
	for i := range 80 {
		b.WriteString(strings.Replace(many, "%d", fmt.Sprint(i), 1))
	}
	b.WriteString("defaultDecision: pending\n# trailing [ [ [ { {\nzones: [/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com]\nlinkRules:\n  - name: lit\n    when: |\n      \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\" in vnet.tags\n")
	if _, err := Parse("test.yaml", []byte(b.String())); err != nil {
		t.Fatalf("policy does not load: %+v", err.(*LoadError).Problems)
	}
}
