package autopilot

import (
	"fmt"
	"html"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// The estate picture: for each target, a server-rendered SVG (no script)
// drawn right to left as traffic flows: peers → VNets → endpoints →
// target. Each VNet carries one chip per zone the target needs, coloured by
// its link state, and a line with its last verification.

const (
	svgColW   = 250 // column pitch
	svgBoxW   = 210
	svgBoxH   = 66
	svgRowH   = 84
	svgTop    = 34
	svgMargin = 12
	svgLegend = 52
)

type palette struct{ stroke, fill, text string }

var colours = map[Health]palette{
	HealthGreen: {"#2e7d32", "#e8f5e9", "#1b5e20"},
	HealthAmber: {"#b26a00", "#fff4e0", "#7a4a00"},
	HealthRed:   {"#c62828", "#fdecea", "#8e0000"},
	HealthNone:  {"#8a8a8a", "#f2f2f2", "#555555"},
}

func linkHealth(state string) Health {
	switch state {
	case LinkLinked:
		return HealthGreen
	case LinkUnlinked:
		return HealthRed
	}
	return HealthAmber
}

type svgNode struct {
	x, y    int
	health  Health
	title   string   // tooltip: full names
	lines   []string // first line bold
	chips   []ZoneLink
	dashed  bool
	verLine string
	verH    Health
}

type svgEdge struct{ from, to *svgNode }

// TargetSVG draws one target and what must reach it, as a standalone SVG.
func TargetSVG(t TargetState) string {
	body, w, h := targetSVGBody(t)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" role="img" aria-label="%s">`+"\n%s</svg>\n",
		w, h, w, h, esc("private link reachability of "+t.Name), body)
}

// targetSVGBody returns the SVG elements of one target and their size.
func targetSVGBody(t TargetState) (string, int, int) {
	var nodes []*svgNode
	var edges []svgEdge
	col := func(c int) int { return svgMargin + c*svgColW }

	conns := t.Connections
	var endpointVNets, peers []*VNetReach
	for i := range t.VNets {
		if t.VNets[i].Role == "endpoint" {
			endpointVNets = append(endpointVNets, &t.VNets[i])
		} else {
			peers = append(peers, &t.VNets[i])
		}
	}
	rows := max(len(conns), len(endpointVNets), len(peers), 1)
	height := svgTop + rows*svgRowH + svgLegend
	width := svgMargin*2 + 3*svgColW + svgBoxW

	tn := &svgNode{x: col(0), y: svgTop + (rows*svgRowH-svgRowH)/2, health: t.Health, title: t.ID,
		lines: []string{t.Name, kindLabel(t.Kind), healthWord(t.Health)}}
	nodes = append(nodes, tn)

	byEndpoint := map[string]*svgNode{}
	for i, c := range conns {
		n := &svgNode{x: col(1), y: svgTop + i*svgRowH, health: c.Health, title: c.Endpoint,
			lines:  []string{core.NameOf(c.Endpoint), c.Status + " · sub …" + tail(c.RequesterSubscription, 4), ruleLine(c)},
			dashed: c.Status != string(core.StatusApproved)}
		nodes = append(nodes, n)
		edges = append(edges, svgEdge{n, tn})
		byEndpoint[core.NameOf(c.Endpoint)] = n
	}
	byVNet := map[string]*svgNode{}
	for i, v := range endpointVNets {
		n := vnetNode(v, col(2), svgTop+i*svgRowH)
		nodes = append(nodes, n)
		byVNet[v.Name] = n
		for _, via := range v.Via {
			if en := byEndpoint[via]; en != nil {
				edges = append(edges, svgEdge{n, en})
			}
		}
	}
	for i, v := range peers {
		n := vnetNode(v, col(3), svgTop+i*svgRowH)
		nodes = append(nodes, n)
		for _, via := range v.Via {
			if vn := byVNet[via]; vn != nil {
				edges = append(edges, svgEdge{n, vn})
			}
		}
	}

	var b strings.Builder
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>` + "\n")
	for i, h := range []string{"target", "private endpoints (connections)", "endpoint VNets", "peered VNets"} {
		fmt.Fprintf(&b, `<text x="%d" y="18" font-weight="bold" fill="#444">%s</text>`+"\n", col(i), esc(h))
	}
	for _, e := range edges {
		x1, y1 := e.from.x, e.from.y+svgBoxH/2
		x2, y2 := e.to.x+svgBoxW, e.to.y+svgBoxH/2
		mid := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#777" stroke-width="1.5" marker-end="url(#arrow)"/>`+"\n",
			x1, y1, mid, y1, mid, y2, x2, y2)
	}
	for _, n := range nodes {
		writeNode(&b, n)
	}
	// legend: two rows of two, in the columns of the picture
	for i, l := range []struct {
		h    Health
		text string
	}{{HealthGreen, "linked / approved / verified"}, {HealthAmber, "waiting: pending, in progress, not verified"},
		{HealthRed, "broken: unlinked (public answer, 403) or verification failed"}, {HealthNone, "rejected or disconnected (dashed: not approved)"}} {
		p := colours[l.h]
		x, ly := col(2*(i%2)), height-svgLegend+16+18*(i/2)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" rx="2" fill="%s" stroke="%s"/><text x="%d" y="%d" fill="#333">%s</text>`+"\n",
			x, ly-10, p.fill, p.stroke, x+17, ly, esc(l.text))
	}
	return b.String(), width, height
}

func vnetNode(v *VNetReach, x, y int) *svgNode {
	n := &svgNode{x: x, y: y, health: v.Health, title: v.ID, lines: []string{v.Name}, chips: v.Links}
	switch vr := v.Verification; {
	case vr == nil:
		n.verLine, n.verH = "not verified yet", HealthAmber
	case vr.Status == verify.StatusPass:
		n.verLine, n.verH = "verified: private IP, metadata OK", HealthGreen
	default:
		n.verLine, n.verH = "verification "+string(vr.Status)+": "+shortDiagnosis(vr.Diagnosis), HealthRed
		if vr.Status == verify.StatusRetry {
			n.verH = HealthAmber
		}
	}
	if v.Note != "" {
		n.verLine, n.verH = v.Note, HealthAmber
	}
	return n
}

func writeNode(b *strings.Builder, n *svgNode) {
	p := colours[n.health]
	dash := ""
	if n.dashed {
		dash = ` stroke-dasharray="5,3"`
	}
	fmt.Fprintf(b, `<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="2"%s/>`,
		esc(n.title), n.x, n.y, svgBoxW, svgBoxH, p.fill, p.stroke, dash)
	y := n.y + 17
	for i, l := range n.lines {
		weight := ""
		if i == 0 {
			weight = ` font-weight="bold"`
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s"%s>%s</text>`, n.x+8, y, p.text, weight, esc(clip(l, 30)))
		y += 15
	}
	if len(n.chips) > 0 {
		cx := n.x + 8
		for _, c := range n.chips {
			cp := colours[linkHealth(c.State)]
			label := zoneLabel(c.Zone)
			w := 10 + 6*len(label) + len(label)/2
			fmt.Fprintf(b, `<g><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="14" rx="3" fill="%s" stroke="%s"/><text x="%d" y="%d" font-size="10" fill="%s">%s</text></g>`,
				esc(c.Zone), esc(c.State), cx, y-11, w, cp.fill, cp.stroke, cx+4, y, cp.text, esc(label))
			cx += w + 4
		}
		y += 15
	}
	if n.verLine != "" {
		vp := colours[n.verH]
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" fill="%s">%s</text>`, n.x+8, y, vp.text, esc(clip(n.verLine, 34)))
	}
	b.WriteString("</g>\n")
}

// EstateSVG stacks the pictures of every target into one SVG document.
func EstateSVG(e Estate) string {
	var parts []string
	width, height := 400, 0
	for _, t := range e.Targets {
		body, w, h := targetSVGBody(t)
		parts = append(parts, fmt.Sprintf(`<g transform="translate(0,%d)"><text x="%d" y="16" font-weight="bold" font-size="15">%s</text><svg y="22" width="%d" height="%d">%s</svg></g>`,
			height, svgMargin, esc(t.Name+" ("+healthWord(t.Health)+")"), w, h, body))
		width = max(width, w)
		height += h + 30
	}
	if len(parts) == 0 {
		height = 40
		parts = append(parts, `<text x="12" y="24">no governed targets</text>`)
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n%s\n</svg>\n",
		width, height, width, height, strings.Join(parts, "\n"))
}

func ruleLine(c ConnectionState) string {
	if c.Rule != "" {
		return "rule " + c.Rule
	}
	if c.Source == "azure" {
		return "outside the autopilot"
	}
	return "default decision"
}

func kindLabel(k string) string {
	switch core.TargetKind(k) {
	case core.TargetWorkspace:
		return "Health Data Services workspace"
	case core.TargetService:
		return "Azure API for FHIR"
	}
	return k
}

func healthWord(h Health) string {
	switch h {
	case HealthGreen:
		return "healthy"
	case HealthAmber:
		return "waiting"
	case HealthRed:
		return "broken"
	}
	return "not in use"
}

// zoneLabel is the short name of a zone on a chip: the service it serves.
func zoneLabel(zone string) string {
	if z, ok := core.ZoneByName(zone); ok {
		return string(z.Service)
	}
	return zone
}

// shortDiagnosis keeps the first sentence of a diagnosis.
func shortDiagnosis(d string) string {
	if i := strings.IndexAny(d, ".;:"); i > 0 {
		d = d[:i]
	}
	return d
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string { return html.EscapeString(s) }
