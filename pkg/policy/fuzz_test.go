package policy

import (
	"errors"
	"testing"
)

// FuzzParse: the loader never panics; it returns either a policy or a
// *LoadError, never both; a policy it returns never approves an unreadable
// endpoint unless a rule explicitly allows it.
func FuzzParse(f *testing.F) {
	f.Add(readFile(f, "../../examples/policy.yaml"))
	f.Add([]byte(base))
	f.Add([]byte(benchPolicy))
	f.Add([]byte("version: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if p != nil || !errors.As(err, &le) {
				t.Fatalf("Parse returned policy %v and error %T %v", p != nil, err, err)
			}
			_ = err.Error()
			return
		}
		allowsUnreadable := false
		for _, r := range p.Rules() {
			allowsUnreadable = allowsUnreadable || r.AllowUnreadableEndpoint
		}
		for _, sub := range []string{subApp, subUnknown} {
			in := unreadableInput(sub)
			d, _ := p.DecideConnection(in)
			if d.Action == ActionApprove && !allowsUnreadable {
				t.Fatalf("approved an unreadable endpoint: %+v", d)
			}
			if p.DefaultDecision() == ActionApprove {
				t.Fatal("approve default")
			}
			p.Explain(readableInput(sub, "10.0.0.0/16"))
			_, _ = p.DecideLinks(LinkInput{VNet: *readableInput(sub, "10.0.0.0/16").EndpointVNet, HasGovernedEndpoint: true})
		}
	})
}
