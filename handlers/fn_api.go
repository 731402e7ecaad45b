package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/plautopilot/autopilot/pkg/funchost"
)

// Api: httpTrigger (authLevel function) with an http output, routes
// api/{*path}, functions/Api/function.json. The host sends the request in
// the envelope (enableForwardingHttpRequest is off) and reads the answer
// from the output binding apiOutput as a funchost.HTTPResponse.
const (
	fnAPI         = "Api"
	apiBinding    = "req" // the httpTrigger binding
	apiOutput     = "res" // the http output binding
	apiRouteParam = "path"
	// functionKeyParam is the query parameter the host reads a function
	// key from.
	functionKeyParam = "code"
)

// api serves the autopilot's HTTP API (autopilot.Service.API, docs/api.md):
// the request from the envelope is replayed against the API handler and
// its answer returned through the http output.
func (a *app) api(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	in, err := inv.HTTPRequest(apiBinding)
	if err != nil {
		return nil, err
	}
	w, err := a.service(inv.Function)
	if err != nil {
		return nil, err
	}
	req := httptest.NewRequestWithContext(ctx, methodOr(in.Method), apiTarget(in), bytes.NewReader(in.Body))
	for k, vs := range in.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	w.svc.API().ServeHTTP(rec, req)
	out := funchost.HTTPResponse{StatusCode: rec.Code, Body: rec.Body.String(), Headers: map[string]string{}}
	for _, h := range []string{"Content-Type", "Allow"} {
		if v := rec.Header().Get(h); v != "" {
			out.Headers[h] = v
		}
	}
	resp := &funchost.Response{}
	resp.SetOutput(apiOutput, out)
	return resp, nil
}

func methodOr(m string) string {
	if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
		return m
	}
	return http.MethodGet
}

// apiTarget is the request URI for the API handler: the path of the
// request URL when it is under /api/, otherwise /api/ plus the route's
// {*path} parameter, with the query.
func apiTarget(in funchost.HTTPRequest) string {
	path, query := "", url.Values{}
	if u, err := url.Parse(in.URL); err == nil && strings.HasPrefix(u.Path, "/api/") {
		path, query = u.Path, u.Query()
	} else {
		path = "/api/" + strings.TrimPrefix(in.Params[apiRouteParam], "/")
	}
	for k, v := range in.Query {
		if !query.Has(k) {
			query.Set(k, v)
		}
	}
	// The function key (?code=) was for the host, which checked it; the API
	// neither needs nor logs it.
	query.Del(functionKeyParam)
	target := (&url.URL{Path: path}).EscapedPath()
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	return target
}
