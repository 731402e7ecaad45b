package policy

import (
	"bytes"
	"fmt"
	"math"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Bounds on what a policy file may cost to load and to evaluate. A policy is
// reviewed, but it is still input: a file of nested YAML flow lists or a CEL
// condition of nested comprehensions must be refused in milliseconds with an
// error naming the problem, never take seconds or gigabytes.
const (
	// MaxPolicyBytes is the largest policy file Load and Parse accept;
	// larger files are refused before any parsing. A real policy is a few
	// KiB; the YAML parser takes about a second per 100 KiB of the worst
	// shapes, so the limit keeps the worst load well under a second.
	MaxPolicyBytes = 64 << 10
	// MaxNesting is the deepest YAML nesting accepted (block levels plus
	// flow brackets), checked by a linear scan before the YAML parser runs.
	// A real policy nests about six levels.
	MaxNesting = 64
	// MaxRules is the most connection rules, and the most link rules, a
	// policy may hold.
	MaxRules = 1000
	// MaxExpressionBytes is the longest CEL condition accepted: room for a
	// landing zone's list of about 1,500 subscription ids (the full-size
	// load test lists 1,000, 20 KB).
	MaxExpressionBytes = 32 << 10
	// MaxRuleCost is the largest static cost estimate (cel-go's cost model:
	// about one unit per operation, per list element iterated and per
	// character scanned) a rule may have, with the sizes of ARM's data bounded
	// as in sizeBounds. A rule above it is refused at load, naming the rule.
	MaxRuleCost = 100_000
	// MaxEvalCost is the runtime cost limit of one condition evaluation: the
	// evaluation is interrupted with an error beyond it (the rule then does
	// not match, and the reason says why), so a decision takes at most a few
	// milliseconds.
	MaxEvalCost = 100_000
	// MaxEvalMemory bounds the values one evaluation may build, in cel-go's
	// aggregate element counts (list items, map entries, string characters).
	MaxEvalMemory = 1 << 20
)

// Sizes assumed for ARM's data in the static cost estimate. They are ARM's
// own limits or generous bounds above what a real resource holds; a value
// larger at runtime is still stopped by MaxEvalCost.
const (
	maxStringLen    = 2048 // ids, names, tags values, messages
	maxTags         = 50   // ARM: 50 tags per resource
	maxListItems    = 1000 // address prefixes, peered VNets
	maxGroupIDs     = 16
	costOverloadCID = "cidrsWithin_list_list"
)

// checkBounds refuses a policy source that is too large or nests too deeply,
// before the YAML parser sees it (go-yaml's cost grows far faster than
// linearly with nesting). It returns nil when the source is within bounds.
func checkBounds(name string, src []byte) *LoadError {
	if len(src) > MaxPolicyBytes {
		return &LoadError{File: name, Problems: []Problem{{
			Msg: fmt.Sprintf("policy file is %d bytes, more than the limit of %d bytes (%d KiB)", len(src), MaxPolicyBytes, MaxPolicyBytes>>10)}}}
	}
	if depth, line := nestingDepth(src, MaxNesting); depth > MaxNesting {
		return &LoadError{File: name, Problems: []Problem{{Line: line,
			Msg: fmt.Sprintf("YAML nesting deeper than %d levels (block indentation and [ { brackets): a policy nests about six", MaxNesting)}}}
	}
	return nil
}

// nestingDepth scans YAML source once and returns the deepest nesting seen,
// stopping at the first line (1-based, returned) where it exceeds limit. It
// counts block levels by an indentation stack plus compact "- " and "? "
// markers, and flow levels by [ and { outside quoted scalars and comments,
// and skips block scalar (| and >) content. It is an upper bound of the
// parser's nesting for ordinary files, computed in linear time.
func nestingDepth(src []byte, limit int) (maxDepth, atLine int) {
	var (
		stack       []int // indentation of open block levels
		flow        int   // open [ and { brackets
		quote       byte  // ' or " while inside a quoted scalar
		blockIndent = -1  // indentation of the line that opened a block scalar
	)
	line := 0
	for len(src) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			l, src = src[:i], src[i+1:]
		} else {
			l, src = src, nil
		}
		indent := 0
		for indent < len(l) && l[indent] == ' ' {
			indent++
		}
		blank := indent == len(l) || l[indent] == '\r'
		if blockIndent >= 0 {
			if blank || indent > blockIndent {
				continue // block scalar content
			}
			blockIndent = -1
		}
		if blank {
			continue
		}
		pos := indent
		depth := 0
		if flow == 0 && quote == 0 {
			for len(stack) > 0 && stack[len(stack)-1] >= indent {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, indent)
			depth = len(stack)
			// compact nesting on one line: "- - - x", "? - x"
			for pos < len(l) && (l[pos] == '-' || l[pos] == '?') && (pos+1 == len(l) || l[pos+1] == ' ' || l[pos+1] == '\t') {
				depth++
				pos++
				for pos < len(l) && (l[pos] == ' ' || l[pos] == '\t') {
					pos++
				}
			}
		} else {
			depth = len(stack)
		}
		if depth+flow > maxDepth {
			maxDepth = depth + flow
			if maxDepth > limit {
				return maxDepth, line
			}
		}
		last := byte(' ') // previous byte, for token starts
		lastSig := byte(0)
		for ; pos < len(l); pos++ {
			c := l[pos]
			if quote != 0 {
				switch {
				case quote == '"' && c == '\\':
					pos++
				case c == quote:
					if quote == '\'' && pos+1 < len(l) && l[pos+1] == '\'' {
						pos++ // '' escapes a quote
					} else {
						quote = 0
					}
				}
				last = c
				continue
			}
			switch c {
			case '#':
				if last == ' ' || last == '\t' {
					pos = len(l)
					continue
				}
			case '"', '\'':
				if tokenStart(last) {
					quote = c
				}
			case '[', '{':
				flow++
				if depth+flow > maxDepth {
					maxDepth = depth + flow
					if maxDepth > limit {
						return maxDepth, line
					}
				}
			case ']', '}':
				if flow > 0 {
					flow--
				}
			}
			last = c
			if c != ' ' && c != '\t' && c != '\r' {
				lastSig = c
			}
		}
		// "key: |", "- >-", "key: |2": block scalar content follows
		if flow == 0 && quote == 0 && (lastSig == '|' || lastSig == '>' || lastSig == '-' || lastSig == '+' || (lastSig >= '1' && lastSig <= '9')) {
			if blockScalarHeader(l) {
				blockIndent = indent
			}
		}
	}
	return maxDepth, line
}

func tokenStart(prev byte) bool {
	switch prev {
	case ' ', '\t', '[', '{', ',', ':', '-', '?':
		return true
	}
	return false
}

// blockScalarHeader reports whether a line ends with a block scalar header
// (| or > with optional chomping and indentation indicators).
func blockScalarHeader(l []byte) bool {
	t := bytes.TrimRight(l, " \t\r")
	i := len(t)
	for i > 0 && (t[i-1] == '-' || t[i-1] == '+' || (t[i-1] >= '1' && t[i-1] <= '9')) {
		i--
	}
	if i == 0 || (t[i-1] != '|' && t[i-1] != '>') || len(t)-i > 2 {
		return false
	}
	return i == 1 || t[i-2] == ' ' || t[i-2] == '\t'
}

// sizeEstimator bounds the sizes of the rule variables for cel-go's static
// cost estimate: without bounds every list and string of the input is
// unbounded and no rule touching one could be estimated.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 || n.Type() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind, types.BytesKind:
		return &cost.SizeEstimate{Min: 0, Max: maxStringLen}
	case types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: maxTags}
	case types.ListKind:
		if path[len(path)-1] == "groupIds" {
			return &cost.SizeEstimate{Min: 0, Max: maxGroupIDs}
		}
		return &cost.SizeEstimate{Min: 0, Max: maxListItems}
	}
	return nil
}

func (e sizeEstimator) EstimateCallCost(_, overloadID string, _ *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	if overloadID != costOverloadCID || len(args) != 2 {
		return nil
	}
	n, m := e.sizeOf(args[0]), e.sizeOf(args[1])
	return cost.NewCallEstimate(cost.Estimate{Min: 1, Max: mulSat(n.Max, m.Max)}, &cost.SizeEstimate{Min: 1, Max: 1})
}

func (e sizeEstimator) sizeOf(n cost.AstNode) cost.SizeEstimate {
	if s := n.ComputedSize(); s != nil {
		return *s
	}
	if s := e.EstimateSize(n); s != nil {
		return *s
	}
	return cost.SizeEstimate{Min: 0, Max: math.MaxUint64}
}

func mulSat(a, b uint64) uint64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxUint64/b {
		return math.MaxUint64
	}
	return a * b
}

// cidrsWithinCost charges cidrsWithin at runtime for the pairs it may
// compare, as the static estimate does.
func cidrsWithinCost(args []ref.Val, _ ref.Val) *uint64 {
	c := uint64(1)
	if len(args) == 2 {
		a, aok := args[0].(traits.Sizer)
		b, bok := args[1].(traits.Sizer)
		if aok && bok {
			n, _ := a.Size().(types.Int)
			m, _ := b.Size().(types.Int)
			if n > 0 && m > 0 {
				c = mulSat(uint64(n), uint64(m))
			}
		}
	}
	return &c
}

// evalLimits are the program options bounding one evaluation.
func evalLimits() []cel.ProgramOption {
	return []cel.ProgramOption{
		cel.CostLimit(MaxEvalCost),
		cel.CostTrackerOptions(cost.OverloadTracker(costOverloadCID, cidrsWithinCost)),
		cel.MemoryLimit(MaxEvalMemory),
	}
}

func costString(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	return fmt.Sprint(c)
}
