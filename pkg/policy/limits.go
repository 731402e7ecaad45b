package policy

import (
	"fmt"
	"math"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"
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
	// flow brackets), counted on the lexer's tokens before the YAML parser
	// runs (nestingDepth). A real policy nests about six levels.
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
// linearly with nesting: 20,000 levels took 15 s and 1.3 GB). It returns nil
// when the source is within bounds.
func checkBounds(name string, src []byte) *LoadError {
	if len(src) > MaxPolicyBytes {
		return &LoadError{File: name, Problems: []Problem{{
			Msg: fmt.Sprintf("policy file is %d bytes, more than the limit of %d bytes (%d KiB)", len(src), MaxPolicyBytes, MaxPolicyBytes>>10)}}}
	}
	depth, line, err := nestingDepth(src, MaxNesting)
	if err != nil {
		return &LoadError{File: name, Problems: []Problem{{Msg: err.Error()}}}
	}
	if depth > MaxNesting {
		return &LoadError{File: name, Problems: []Problem{{Line: line,
			Msg: fmt.Sprintf("YAML nesting deeper than %d levels (block indentation and [ { brackets): a policy nests about six", MaxNesting)}}}
	}
	return nil
}

// nestingDepth returns the deepest nesting of a YAML source, stopping at
// the first line (1-based, returned) where it exceeds limit.
//
// It counts on the parser's own tokens (go-yaml's lexer, which
// parser.ParseBytes runs first and which is linear in the input), so quotes,
// comments and block scalars are read exactly as the parser reads them: a
// stray ' in a plain scalar cannot hide what follows (issue 26; a line
// scanner with its own idea of quoting could be put out of step). Flow
// levels are the [ and { tokens still open, exactly; block levels are an
// indentation stack of the first token on each line outside flow
// collections plus each further "-" or "?" on that line, which can only
// count more than the parser nests, never less. The lexer's cost on a
// 64 KiB source is bounded (BenchmarkRefuseBombs; about 20 MB and tens of
// milliseconds at worst).
func nestingDepth(src []byte, limit int) (maxDepth, atLine int, err error) {
	toks, err := tokenize(src)
	if err != nil {
		return 0, 0, err
	}
	var (
		stack     []int // columns of open block levels
		flow      int   // open [ and { tokens
		line      int   // line of the previous token that starts a line
		lineDepth int   // block levels at the current line
	)
	for _, tk := range toks {
		if tk == nil || tk.Position == nil || tk.Type == token.CommentType {
			continue
		}
		if tk.Position.Line != line {
			line = tk.Position.Line
			if flow == 0 {
				col := tk.Position.Column
				for len(stack) > 0 && stack[len(stack)-1] >= col {
					stack = stack[:len(stack)-1]
				}
				stack = append(stack, col)
			}
			lineDepth = len(stack)
		}
		switch tk.Type {
		case token.SequenceEntryType, token.MappingKeyType:
			if flow == 0 { // "- - - x": compact nesting on one line
				lineDepth++
			}
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		}
		if d := lineDepth + flow; d > maxDepth {
			maxDepth = d
			if maxDepth > limit {
				return maxDepth, line, nil
			}
		}
	}
	return maxDepth, line, nil
}

// tokenize runs go-yaml's lexer, turning a panic into an error (go-yaml has
// panicked on odd input before, see loader.decode).
func tokenize(src []byte) (toks token.Tokens, err error) {
	defer func() {
		if r := recover(); r != nil {
			toks, err = nil, fmt.Errorf("yaml lexer failed on this file: %v", r)
		}
	}()
	return lexer.Tokenize(string(src)), nil
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
