package policy

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a policy file.
type Problem struct {
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Rule   string `json:"rule,omitempty"`  // the rule concerned, "" for file-level settings
	Field  string `json:"field,omitempty"` // e.g. "connectionRules[2].when"
	Msg    string `json:"msg"`
}

// LoadError lists everything wrong with a policy file. Load and Parse return
// it (and no *Policy) for any invalid file: a process with a bad policy has
// nothing to act with.
type LoadError struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

func (e *LoadError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid policy " + e.format(e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid policy %s: %d problems", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(e.format(p))
	}
	return b.String()
}

func (e *LoadError) format(p Problem) string {
	var b strings.Builder
	b.WriteString(e.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}
