package autopilot

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// apiTargets serves GET /api/targets: the estate as JSON, as an HTML page
// (Accept: text/html or ?format=html) or as one SVG picture (?format=svg).
func (s *Service) apiTargets(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	f := r.URL.Query().Get("format")
	switch f {
	case "", "json", "html", "svg":
	default:
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("query parameter \"format\": %q is not json, html or svg", f))
		return
	}
	e := s.Estate(r.Context())
	if code := r.URL.Query().Get("code"); code != "" {
		e.keyQuery = "&code=" + url.QueryEscape(code)
	}
	switch {
	case f == "svg":
		w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
		w.Write([]byte(EstateSVG(e)))
	case f == "html" || (f == "" && wantsHTML(r.Header.Get("Accept"))):
		b, err := EstatePage(e)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, "render estate page: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	default:
		writeJSON(w, http.StatusOK, e)
	}
}

// EstatePage renders the estate as a plain HTML page (no script): per
// target its picture, its connections and the VNets that must reach it.
func EstatePage(e Estate) ([]byte, error) {
	var buf bytes.Buffer
	if err := estatePage.Execute(&buf, e); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var estatePage = template.Must(template.New("estate").Funcs(template.FuncMap{
	"t": func(v any) string {
		if t, ok := v.(interface {
			Format(string) string
			IsZero() bool
		}); ok {
			if t.IsZero() {
				return ""
			}
			return t.Format("2006-01-02 15:04:05Z07:00")
		}
		return fmt.Sprint(v)
	},
	"name": func(id string) string {
		if i := strings.LastIndex(strings.TrimRight(id, "/"), "/"); i >= 0 {
			return id[i+1:]
		}
		return id
	},
	"svg":   func(t TargetState) template.HTML { body := TargetSVG(t); return template.HTML(body) },
	"word":  healthWord,
	"label": zoneLabel,
	"join":  strings.Join,
	"linkOf": func(v VNetReach, zone string) ZoneLink {
		for _, l := range v.Links {
			if l.Zone == zone {
				return l
			}
		}
		return ZoneLink{Zone: zone, State: LinkUnknown}
	},
	"lh": func(state string) string { return string(linkHealth(state)) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Private Link Autopilot: estate</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eee}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-size:.85em;font-weight:bold;border:2px solid}
.green{background:#e8f5e9;border-color:#2e7d32;color:#1b5e20}.amber{background:#fff4e0;border-color:#b26a00;color:#7a4a00}
.red{background:#fdecea;border-color:#c62828;color:#8e0000}.none{background:#f2f2f2;border-color:#8a8a8a;color:#555}
td.green,td.amber,td.red,td.none{border-width:1px}
section{margin-bottom:2.5em}svg{max-width:100%;height:auto}.muted{color:#666;font-size:.9em}
</style>
</head><body>
<h1>Private Link Autopilot: estate <span class="badge {{.Health}}">{{word .Health}}</span></h1>
<p class="muted">Policy {{.Policy}} (mode {{.Mode}}, sha256 {{.PolicyDigest}}) &middot; read from Azure {{t .Generated}} with {{.ARMReads}} ARM reads &middot; managed zones: {{join .Zones ", "}} &middot; <a href="status?format=html{{.KeyQuery}}">recent changes</a> &middot; <a href="targets?format=json{{.KeyQuery}}">JSON</a> &middot; <a href="targets?format=svg{{.KeyQuery}}">SVG</a></p>
{{range .Errors}}<p class="red">{{.}}</p>{{end}}
{{if not .Targets}}<p>No governed target found in the policy's subscriptions.</p>{{end}}
{{range $t := .Targets}}<section>
<h2>{{$t.Name}} <span class="badge {{$t.Health}}">{{word $t.Health}}</span></h2>
<p class="muted" title="{{$t.ID}}">{{$t.Kind}} in subscription {{$t.Subscription}}{{if $t.FQDNs}} &middot; {{join $t.FQDNs ", "}}{{end}}{{if $t.PublicNetworkAccess}} &middot; public network access {{$t.PublicNetworkAccess}}{{end}}</p>
{{if $t.HealthReasons}}<ul>{{range $t.HealthReasons}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{svg $t}}
<h3>Connections</h3>
{{if $t.Connections}}<table><tr><th>status</th><th>private endpoint</th><th>requester subscription</th><th>rule</th><th>why</th><th>decided</th></tr>
{{range $t.Connections}}<tr><td class="{{.Health}}">{{.Status}}</td><td title="{{.Endpoint}}">{{name .Endpoint}}</td><td>{{.RequesterSubscription}}</td><td>{{.Rule}}</td><td>{{.Reason}}{{if .Description}}<br><span class="muted">told the requester: {{.Description}}</span>{{end}}</td><td>{{t .DecidedAt}}{{if eq .Source "policy"}}<span class="muted">(policy now)</span>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No private endpoint connections.</p>{{end}}
<h3>VNets that must reach it</h3>
{{if $t.VNets}}<table><tr><th>VNet</th><th>role</th>{{range $t.Zones}}<th title="{{.}}">{{label .}} zone</th>{{end}}<th>last verification</th></tr>
{{range $v := $t.VNets}}<tr><td class="{{$v.Health}}" title="{{$v.ID}}">{{$v.Name}}{{if $v.Note}}<br><span class="muted">{{$v.Note}}</span>{{end}}</td><td>{{if eq $v.Role "peer"}}peered with {{join $v.Via ", "}}{{else}}holds {{join $v.Via ", "}}{{end}}</td>
{{range $z := $t.Zones}}{{with linkOf $v $z}}<td class="{{lh .State}}">{{.State}}{{if .Link}}<br><span class="muted">{{.Link}} ({{.Owner}})</span>{{end}}</td>{{end}}{{end}}
<td>{{with $v.Verification}}<span class="badge {{if eq .Status "pass"}}green{{else if eq .Status "retry"}}amber{{else}}red{{end}}">{{.Status}}</span> {{t .Time}}{{if .Diagnosis}}<br>{{.Diagnosis}}{{end}}{{else}}<span class="badge amber">not yet</span>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No approved endpoint: no VNet must reach it.</p>{{end}}
{{if $t.UnmanagedZones}}<p class="amber">Zones this target needs that the policy does not manage: {{join $t.UnmanagedZones ", "}}</p>{{end}}
</section>
{{end}}
</body></html>
`))
