package main

import (
	"context"

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
)

// api serves on-demand evaluation, verification and status. Placeholder: it
// decodes the request and fails with "not implemented yet" (the caller gets
// a 500 from the host).
func (a *app) api(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
	if _, err := inv.HTTPRequest(apiBinding); err != nil {
		return nil, err
	}
	return nil, funchost.NotImplemented(inv.Function)
}
