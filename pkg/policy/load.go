package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/plautopilot/autopilot/pkg/core"
)

// APIVersion is the policy file format this package reads.
const APIVersion = "autopilot.plautopilot.io/v1"

// MaxDescription is ARM's limit on a connection state description.
const MaxDescription = 140

var (
	envOnce sync.Once
	envs    *celEnvs
	envErr  error
)

func celEnv() (*celEnvs, error) {
	envOnce.Do(func() { envs, envErr = newEnvs() })
	return envs, envErr
}

// Load reads, validates and compiles the policy file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit: Parse then refuses the file by size
	// without reading a huge one whole.
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse validates and compiles a policy; name is used in error messages.
// Any problem yields a *LoadError listing all problems found, and no Policy.
func Parse(name string, data []byte) (*Policy, error) {
	if err := checkBounds(name, data); err != nil {
		return nil, err
	}
	l := &loader{name: name, src: data}
	p := l.load()
	if len(l.problems) > 0 {
		slices.SortStableFunc(l.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &LoadError{File: name, Problems: l.problems}
	}
	return p, nil
}

type loader struct {
	name     string
	src      []byte
	lines    []string
	nodes    map[string]ast.Node // value node by path ("$.connectionRules[0].when")
	paths    map[[2]int]string   // path by value position (line, column)
	keys     map[string]*token.Token
	rules    []ruleSpan
	problems []Problem
	vars     map[string][]string // variables read by the condition at a path
}

// ruleSpan locates a rule in the file, to name it in decode errors.
type ruleSpan struct {
	path       string
	name       string
	start, end int
}

func (l *loader) add(path, rule, msg string) {
	line, col := l.pos(path)
	l.problems = append(l.problems, Problem{Line: line, Column: col, Rule: rule, Field: field(path), Msg: msg})
}

func (l *loader) addf(path, rule, format string, args ...any) {
	l.add(path, rule, fmt.Sprintf(format, args...))
}

// field turns a path into the field name shown to users.
func field(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, "$"), ".") }

// pos returns the line and column of the value at path, falling back to its
// key, then to the closest ancestor present in the file.
func (l *loader) pos(path string) (int, int) {
	for p := path; p != "" && p != "$"; p = parentPath(p) {
		if n, ok := l.nodes[p]; ok && n != nil {
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				return tk.Position.Line, tk.Position.Column
			}
		}
		if tk, ok := l.keys[p]; ok && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 0, 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func (l *loader) load() *Policy {
	l.lines = strings.Split(string(l.src), "\n")
	f, err := parser.ParseBytes(l.src, 0)
	if err != nil {
		l.yamlError(err)
		return nil
	}
	docs := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		docs++
		if docs > 1 {
			line := 0
			if tk := d.Body.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
			l.problems = append(l.problems, Problem{Line: line, Msg: "a policy file holds one YAML document; found another"})
			return nil
		}
	}
	if docs == 0 {
		l.problems = append(l.problems, Problem{Msg: "the policy file is empty"})
		return nil
	}
	l.index(f)
	if len(l.problems) > 0 {
		return nil
	}
	s, err := l.decode()
	if err != nil {
		l.yamlError(err)
		return nil
	}
	return l.compile(s)
}

// decode decodes strictly. go-yaml has panicked on odd input (found by
// FuzzParse); a panic becomes a load error, so a bad file still fails closed
// instead of crashing the process.
func (l *loader) decode() (s *spec, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("yaml decoder failed on this file: %v", r)
		}
	}()
	s = &spec{}
	dec := yaml.NewDecoder(bytes.NewReader(l.src), yaml.DisallowUnknownField())
	if err := dec.Decode(s); err != nil {
		return nil, err
	}
	return s, nil
}

// index records every node's position by path, and where each rule starts
// and ends.
func (l *loader) index(f *ast.File) {
	l.nodes = map[string]ast.Node{}
	l.paths = map[[2]int]string{}
	l.keys = map[string]*token.Token{}
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			ast.Walk(indexer{l}, d.Body)
		}
	}
	for _, list := range []string{"$.connectionRules", "$.linkRules", "$.targets.publicNetworkAccessBy"} {
		seq, ok := l.nodes[list].(*ast.SequenceNode)
		if !ok {
			continue
		}
		for i, item := range seq.Values {
			path := fmt.Sprintf("%s[%d]", list, i)
			span := ruleSpan{path: path, start: lineOf(item), end: lineOf(item)}
			ast.Walk(maxLine{&span.end}, item)
			if n, ok := l.nodes[path+".name"]; ok {
				if sn, ok := n.(*ast.StringNode); ok {
					span.name = sn.Value
				}
			}
			l.rules = append(l.rules, span)
		}
	}
}

type indexer struct{ l *loader }

func (v indexer) Visit(n ast.Node) ast.Visitor {
	switch n := n.(type) {
	case *ast.TagNode, *ast.AnchorNode, *ast.AliasNode:
		// Not needed in a policy, and a source of surprises (and of
		// go-yaml panics and alias blow-ups).
		line, col := 0, 0
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, tk.Position.Column
		}
		v.l.problems = append(v.l.problems, Problem{Line: line, Column: col, Field: field(n.GetPath()),
			Msg: "YAML tags, anchors and aliases are not allowed in a policy file"})
		return nil
	case *ast.MappingValueNode:
		if n.Value != nil {
			l := v.l
			path := n.Value.GetPath()
			l.nodes[path] = n.Value
			if tk := n.Value.GetToken(); tk != nil && tk.Position != nil {
				l.paths[[2]int{tk.Position.Line, tk.Position.Column}] = path
			}
			if n.Key != nil {
				l.keys[path] = n.Key.GetToken()
			}
		}
	case *ast.SequenceNode:
		for _, item := range n.Values {
			if item != nil {
				v.l.nodes[item.GetPath()] = item
				if tk := item.GetToken(); tk != nil && tk.Position != nil {
					v.l.paths[[2]int{tk.Position.Line, tk.Position.Column}] = item.GetPath()
				}
			}
		}
	}
	return v
}

type maxLine struct{ end *int }

func (v maxLine) Visit(n ast.Node) ast.Visitor {
	if line := lineOf(n); line > *v.end {
		*v.end = line
	}
	if lit, ok := n.(*ast.LiteralNode); ok && lit.Value != nil {
		if end := lineOf(lit) + strings.Count(strings.TrimRight(lit.Value.Value, "\n"), "\n") + 1; end > *v.end {
			*v.end = end
		}
	}
	return v
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// ruleAt names the rule whose lines hold line, for decode errors.
func (l *loader) ruleAt(line int) (string, string) {
	for _, r := range l.rules {
		if line >= r.start && line <= r.end {
			return r.name, r.path
		}
	}
	return "", ""
}

// yamlError turns a go-yaml error (syntax, type, unknown or duplicate key)
// into a Problem with its position and, where it falls inside a rule, the
// rule's name.
func (l *loader) yamlError(err error) {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		l.problems = append(l.problems, Problem{Msg: err.Error()})
		return
	}
	pr := Problem{Msg: ye.GetMessage()}
	tk := ye.GetToken()
	if tk != nil && tk.Position != nil {
		pr.Line, pr.Column = tk.Position.Line, tk.Position.Column
		pr.Field = field(l.paths[[2]int{pr.Line, pr.Column}])
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil {
		got := "a value"
		if te.SrcType != nil {
			got = te.SrcType.String()
		}
		if tk != nil {
			got += fmt.Sprintf(" %q", tk.Value)
		}
		pr.Msg = fmt.Sprintf("expected %s, got %s", typeName(te.DstType), got)
	}
	if pr.Line > 0 {
		name, path := l.ruleAt(pr.Line)
		pr.Rule = name
		if pr.Field == "" && path != "" {
			pr.Field = field(path)
		}
	}
	l.problems = append(l.problems, pr)
}

// typeName names a Go type the way the policy reference does.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

var (
	ruleNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
	armNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
	guidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	zoneIDRE    = regexp.MustCompile(`(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/privateDnsZones/[^/]+$`)
	resolutions = []string{"Default", "NxDomainRedirect"}
)

func (l *loader) compile(s *spec) *Policy {
	p := &Policy{
		source:            l.name,
		mode:              ModeEnforce,
		defaultAction:     ActionPending,
		removeOwnLinks:    s.RemoveOwnLinksOnVNetDelete,
		linkEndpointVNets: boolOr(s.LinkEndpointVNets, true),
		linkPeeredVNets:   boolOr(s.LinkPeeredVNets, true),
		targetIDs:         map[string]core.TargetKind{},
		allTypes:          map[core.TargetKind]bool{},
		subSet:            map[string]bool{},
	}
	sum := sha256.Sum256(l.src)
	p.digest = hex.EncodeToString(sum[:])

	switch {
	case s.APIVersion == "" && s.Version == nil:
		l.add("$", "", fmt.Sprintf("missing apiVersion: set apiVersion: %s (or version: 1)", APIVersion))
	case s.APIVersion != "" && s.APIVersion != APIVersion:
		l.addf("$.apiVersion", "", "unsupported apiVersion %q: this build reads %s", s.APIVersion, APIVersion)
	case s.Version != nil && *s.Version != 1:
		l.addf("$.version", "", "unsupported version %d: this build reads version 1", *s.Version)
	}

	switch Mode(s.Mode) {
	case "":
	case ModeEnforce, ModeAudit:
		p.mode = Mode(s.Mode)
	default:
		l.addf("$.mode", "", "mode %q is not one of enforce, audit", s.Mode)
	}

	l.targets(s, p)
	l.zones(s, p)
	l.defaults(s, p)
	l.connectionRules(s, p)
	l.linkRules(s, p)
	l.zoneGroups(s, p)
	l.verification(s, p)
	l.publicAccessSelections(s, p)

	if len(l.problems) > 0 {
		return nil
	}
	return p
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func (l *loader) targets(s *spec, p *Policy) {
	t := s.Targets
	if t == nil || (len(t.IDs) == 0 && len(t.AllOfType) == 0 && len(t.Subscriptions) == 0) {
		l.add("$.targets", "", "nothing is governed: set targets.ids and/or targets.allOfType with targets.subscriptions")
		return
	}
	for i, sub := range t.Subscriptions {
		path := fmt.Sprintf("$.targets.subscriptions[%d]", i)
		if !guidRE.MatchString(sub) {
			l.addf(path, "", "%q is not a subscription id (a GUID)", sub)
			continue
		}
		p.addSubscription(sub)
	}
	for i, typ := range t.AllOfType {
		path := fmt.Sprintf("$.targets.allOfType[%d]", i)
		switch strings.ToLower(typ) {
		case "workspaces":
			p.allTypes[core.TargetWorkspace] = true
		case "services":
			p.allTypes[core.TargetService] = true
		default:
			l.addf(path, "", "%q is not a target type: use workspaces or services", typ)
		}
	}
	if len(t.AllOfType) > 0 && len(t.Subscriptions) == 0 {
		l.add("$.targets.allOfType", "", "allOfType needs targets.subscriptions: the subscriptions whose targets are governed")
	}
	if len(t.Subscriptions) > 0 && len(t.AllOfType) == 0 {
		l.add("$.targets.subscriptions", "", "subscriptions govern nothing without targets.allOfType (workspaces, services)")
	}
	for i, id := range t.IDs {
		path := fmt.Sprintf("$.targets.ids[%d]", i)
		kind, ok := targetKindOf(id)
		if !ok {
			l.addf(path, "", "%q is not a Microsoft.HealthcareApis workspace or service resource id", id)
			continue
		}
		if _, dup := p.targetIDs[core.IDKey(id)]; dup {
			l.addf(path, "", "target %q is listed twice", id)
			continue
		}
		p.targetIDs[core.IDKey(id)] = kind
		p.ids = append(p.ids, id)
		p.addSubscription(core.SubscriptionOf(id))
	}
	switch m := PublicAccessMode(t.PublicNetworkAccess); m {
	case "":
		p.publicAccess = PublicAccessLeave
	case PublicAccessLeave, PublicAccessAudit, PublicAccessDisableAfterVerification:
		p.publicAccess = m
	default:
		l.addf("$.targets.publicNetworkAccess", "", "publicNetworkAccess %q is not one of leave, audit, disableAfterVerification", t.PublicNetworkAccess)
	}
}

// targetKindOf parses a workspace or legacy service id
// (/subscriptions/S/resourceGroups/RG/providers/Microsoft.HealthcareApis/TYPE/NAME)
// without allocating: it runs on every decision.
func targetKindOf(id string) (core.TargetKind, bool) {
	id = strings.Trim(id, "/")
	var parts [8]string
	n := 0
	for n < 8 {
		i := strings.IndexByte(id, '/')
		if i < 0 {
			parts[n] = id
			n++
			id = ""
			break
		}
		parts[n] = id[:i]
		id = id[i+1:]
		n++
	}
	if n != 8 || id != "" || !strings.EqualFold(parts[0], "subscriptions") || !isGUID(parts[1]) ||
		!strings.EqualFold(parts[2], "resourceGroups") || parts[3] == "" ||
		!strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], "Microsoft.HealthcareApis") || parts[7] == "" {
		return "", false
	}
	switch {
	case strings.EqualFold(parts[6], "workspaces"):
		return core.TargetWorkspace, true
	case strings.EqualFold(parts[6], "services"):
		return core.TargetService, true
	}
	return "", false
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func (l *loader) zones(s *spec, p *Policy) {
	seen := map[string]bool{}
	for i, id := range s.Zones {
		path := fmt.Sprintf("$.zones[%d]", i)
		if !zoneIDRE.MatchString(id) {
			l.addf(path, "", "%q is not a private DNS zone resource id (/subscriptions/.../resourceGroups/.../providers/Microsoft.Network/privateDnsZones/NAME)", id)
			continue
		}
		if seen[core.IDKey(id)] {
			l.addf(path, "", "zone %q is listed twice", id)
			continue
		}
		seen[core.IDKey(id)] = true
		p.zones = append(p.zones, core.Zone{ID: id, Name: core.NameOf(id)})
	}
}

func (l *loader) defaults(s *spec, p *Policy) {
	switch Action(s.DefaultDecision) {
	case "", ActionPending:
	case ActionReject:
		p.defaultAction = ActionReject
		if s.DefaultDescription == "" {
			l.add("$.defaultDecision", "", "defaultDecision reject needs defaultDescription: the requester is told why")
		}
	case ActionApprove:
		l.add("$.defaultDecision", "", "approve is not allowed as defaultDecision: the policy fails closed; approve through an explicit rule")
	default:
		l.addf("$.defaultDecision", "", "%q is not one of pending, reject", s.DefaultDecision)
	}
	if n := utf8.RuneCountInString(s.DefaultDescription); n > MaxDescription {
		l.addf("$.defaultDescription", "", "description is %d characters; ARM allows at most %d", n, MaxDescription)
	}
	p.defaultDescription = s.DefaultDescription
}

func (l *loader) connectionRules(s *spec, p *Policy) {
	e, err := celEnv()
	if err != nil {
		l.problems = append(l.problems, Problem{Msg: err.Error()})
		return
	}
	if len(s.ConnectionRules) > MaxRules {
		l.addf("$.connectionRules", "", "%d connection rules, more than the limit of %d", len(s.ConnectionRules), MaxRules)
		return
	}
	names := map[string]string{}
	for i, r := range s.ConnectionRules {
		path := fmt.Sprintf("$.connectionRules[%d]", i)
		if !l.ruleName(path, r.Name, names) {
			continue
		}
		cr := &connRule{
			name: r.Name, when: r.When, action: Action(r.Decision), description: r.Description,
			allowUnreadable: r.AllowUnreadableEndpoint, revoke: r.Revoke,
		}
		cr.line, _ = l.pos(path + ".name")
		switch cr.action {
		case ActionApprove, ActionReject:
			if r.Description == "" {
				l.addf(path+".description", r.Name, "a %s rule needs a description: it is sent to the requester", r.Decision)
			}
		case ActionPending:
		case "":
			l.add(path, r.Name, "missing decision: one of approve, reject, pending")
		default:
			l.addf(path+".decision", r.Name, "%q is not one of approve, reject, pending", r.Decision)
		}
		if n := utf8.RuneCountInString(r.Description); n > MaxDescription {
			l.addf(path+".description", r.Name, "description is %d characters; ARM allows at most %d", n, MaxDescription)
		}
		if r.Revoke && cr.action != ActionReject {
			l.add(path+".revoke", r.Name, "revoke applies only to reject rules")
		}
		if r.AllowUnreadableEndpoint && cr.action != ActionApprove {
			l.add(path+".allowUnreadableEndpoint", r.Name, "allowUnreadableEndpoint applies only to approve rules")
		}
		cr.prg = l.condition(e.conn, path, r.Name, r.When)
		cr.vars = l.vars[path+".when"]
		cr.requesterFields = l.vars[path+".when#requester"]
		p.connRules = append(p.connRules, cr)
	}
}

// ruleName checks a rule's name is present, well-formed and unique among all
// rules (connection and link rules share one namespace so reasons are never
// ambiguous).
func (l *loader) ruleName(path, name string, names map[string]string) bool {
	switch {
	case name == "":
		l.add(path, "", "rule without a name")
		return false
	case !ruleNameRE.MatchString(name):
		l.addf(path+".name", name, "rule names use letters, digits, '.', '_' and '-' (at most 80)")
		return false
	}
	if first, dup := names[name]; dup {
		line, _ := l.pos(first)
		l.addf(path+".name", name, "duplicate rule name (first used on line %d)", line)
		return false
	}
	names[name] = path + ".name"
	return true
}

// condition compiles a rule's CEL condition, type-checked to bool, and maps
// CEL's positions inside the expression to the file.
func (l *loader) condition(env *cel.Env, path, rule, expr string) cel.Program {
	wpath := path + ".when"
	if strings.TrimSpace(expr) == "" {
		l.add(path, rule, "missing when: a CEL condition (write when: \"true\" to match everything)")
		return nil
	}
	if len(expr) > MaxExpressionBytes {
		l.addf(wpath, rule, "condition is %d bytes, more than the limit of %d", len(expr), MaxExpressionBytes)
		return nil
	}
	checked, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			line, col := l.exprPos(wpath, ce.Location.Line(), ce.Location.Column())
			msg := fmt.Sprintf("CEL error at expression %d:%d: %s", ce.Location.Line(), ce.Location.Column()+1, ce.Message)
			l.problems = append(l.problems, Problem{Line: line, Column: col, Rule: rule, Field: field(wpath), Msg: msg})
		}
		return nil
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		l.addf(wpath, rule, "condition must be a bool, got %s", checked.OutputType())
		return nil
	}
	if l.vars == nil {
		l.vars = map[string][]string{}
	}
	l.vars[wpath] = referencedVars(checked)
	l.vars[wpath+"#requester"] = requesterFields(checked)
	est, err := env.EstimateCost(checked, sizeEstimator{})
	if err != nil {
		l.addf(wpath, rule, "CEL cost estimate: %v", err)
		return nil
	}
	if est.Max > MaxRuleCost {
		l.addf(wpath, rule, "condition is too costly: its estimated cost is up to %s, the limit is %d (nested comprehensions or repeated string operations over large values; simplify it)", costString(est.Max), MaxRuleCost)
		return nil
	}
	prg, err := env.Program(checked, append(evalLimits(), cel.EvalOptions(cel.OptOptimize))...)
	if err != nil {
		l.addf(wpath, rule, "CEL program: %v", err)
		return nil
	}
	return prg
}

// exprPos maps a position inside a CEL expression (line 1-based, column
// 0-based) to the file, for plain, quoted and literal (|) scalars; folded
// scalars map to their first line.
func (l *loader) exprPos(path string, eline, ecol int) (int, int) {
	n := l.nodes[path]
	if n == nil {
		return l.pos(path)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return l.pos(path)
	}
	line, col := tk.Position.Line, tk.Position.Column
	switch n := n.(type) {
	case *ast.LiteralNode:
		start := line + 1
		if strings.HasPrefix(tk.Value, ">") {
			return start, l.indent(start) + 1
		}
		// the block's indentation is that of its first non-blank line
		ind := 0
		for i := start; i <= len(l.lines); i++ {
			if strings.TrimSpace(l.lines[i-1]) != "" {
				ind = l.indent(i)
				break
			}
		}
		return start + eline - 1, ind + ecol + 1
	case *ast.StringNode:
		if eline != 1 {
			return line, col
		}
		switch tk.Type {
		case token.DoubleQuoteType, token.SingleQuoteType:
			return line, col + 1 + ecol
		}
		_ = n
		return line, col + ecol
	}
	return line, col
}

func (l *loader) indent(line int) int {
	if line < 1 || line > len(l.lines) {
		return 0
	}
	s := l.lines[line-1]
	return len(s) - len(strings.TrimLeft(s, " "))
}

func (l *loader) linkRules(s *spec, p *Policy) {
	e, err := celEnv()
	if err != nil {
		return // reported by connectionRules
	}
	names := map[string]string{}
	for i, r := range s.ConnectionRules {
		names[r.Name] = fmt.Sprintf("$.connectionRules[%d].name", i)
	}
	if len(s.LinkRules) > 0 && len(p.zones) == 0 && len(s.Zones) == 0 {
		l.add("$.linkRules", "", "link rules need managed zones: list them under zones")
	}
	if len(s.LinkRules) > MaxRules {
		l.addf("$.linkRules", "", "%d link rules, more than the limit of %d", len(s.LinkRules), MaxRules)
		return
	}
	for i, r := range s.LinkRules {
		path := fmt.Sprintf("$.linkRules[%d]", i)
		if !l.ruleName(path, r.Name, names) {
			continue
		}
		lr := &linkRule{name: r.Name, when: r.When, registration: r.RegistrationEnabled, resolution: r.ResolutionPolicy}
		lr.line, _ = l.pos(path + ".name")
		if lr.resolution == "" {
			lr.resolution = "Default"
		} else if !slices.Contains(resolutions, lr.resolution) {
			l.addf(path+".resolutionPolicy", r.Name, "%q is not one of Default, NxDomainRedirect", r.ResolutionPolicy)
		}
		if len(r.Zones) == 0 {
			for z := range p.zones {
				lr.zones = append(lr.zones, z)
			}
		}
		for j, z := range r.Zones {
			idx, msg := p.zoneIndex(z)
			if msg != "" {
				l.add(fmt.Sprintf("%s.zones[%d]", path, j), r.Name, msg)
				continue
			}
			if !slices.Contains(lr.zones, idx) {
				lr.zones = append(lr.zones, idx)
			}
		}
		if lr.registration && len(lr.zones) > 1 {
			l.add(path+".registrationEnabled", r.Name, "a VNet can auto-register in only one private DNS zone: list exactly one zone in this rule")
		}
		lr.prg = l.condition(e.link, path, r.Name, r.When)
		p.linkRules = append(p.linkRules, lr)
	}
}

// zoneIndex finds a managed zone by id or by name.
func (p *Policy) zoneIndex(ref string) (int, string) {
	found := -1
	for i, z := range p.zones {
		if core.SameID(z.ID, ref) {
			return i, ""
		}
		if strings.EqualFold(z.Name, ref) {
			if found >= 0 {
				return -1, fmt.Sprintf("zone name %q is ambiguous: several managed zones have it; use the zone's resource id", ref)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Sprintf("unknown zone %q: not one of the managed zones (list it under zones)", ref)
	}
	return found, ""
}

func (l *loader) zoneGroups(s *spec, p *Policy) {
	p.zoneGroup = ZoneGroupRule{Enabled: len(p.zones) > 0, Name: "default"}
	zg := s.ZoneGroups
	if zg == nil {
		return
	}
	if zg.Enabled != nil {
		p.zoneGroup.Enabled = *zg.Enabled
	}
	if zg.Name != "" {
		if !armNameRE.MatchString(zg.Name) {
			l.addf("$.zoneGroups.name", "", "%q is not a valid zone group name (letters, digits, '.', '_', '-', at most 80)", zg.Name)
		}
		p.zoneGroup.Name = zg.Name
	}
	if p.zoneGroup.Enabled && len(p.zones) == 0 && len(s.Zones) == 0 {
		l.add("$.zoneGroups.enabled", "", "zone groups need managed zones: list them under zones")
	}
}

func (l *loader) verification(s *spec, p *Policy) {
	p.verify = VerifySettings{Delay: 5 * time.Minute, Attempts: 6, Backoff: time.Minute, ProbeMetadata: true, ProbePublic: true}
	v := s.Verification
	if v == nil {
		return
	}
	if v.Delay != "" {
		if d, ok := l.duration("$.verification.delay", v.Delay); ok {
			p.verify.Delay = d
		}
	}
	if v.Backoff != "" {
		if d, ok := l.duration("$.verification.backoff", v.Backoff); ok {
			if d == 0 {
				l.add("$.verification.backoff", "", "backoff must be more than zero")
			}
			p.verify.Backoff = d
		}
	}
	if v.Attempts != nil {
		if *v.Attempts < 1 || *v.Attempts > 100 {
			l.addf("$.verification.attempts", "", "attempts %d is outside 1..100", *v.Attempts)
		}
		p.verify.Attempts = *v.Attempts
	}
	if v.Resolver != "" {
		if !validResolver(v.Resolver) {
			l.addf("$.verification.resolver", "", "%q is not an IP address or host:port", v.Resolver)
		}
		p.verify.Resolver = v.Resolver
	}
	p.verify.ProbeMetadata = boolOr(v.ProbeMetadata, true)
	p.verify.ProbePublic = boolOr(v.ProbePublic, true)
}

func (l *loader) duration(path, s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil {
		l.addf(path, "", "%q is not a duration (examples: 90s, 5m, 1h)", s)
		return 0, false
	}
	if d < 0 {
		l.addf(path, "", "%q is negative", s)
		return 0, false
	}
	return d, true
}

func validResolver(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}
