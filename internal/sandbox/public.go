package sandbox

import (
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
)

// setPublicAccess applies the publicNetworkAccess of a workspace PUT or a
// service PATCH from the API to the stored target. Only that setting (and,
// on a workspace PUT, the tags) changes: the sandbox models no other
// writable target property, and the target's connections are child
// resources either way. The etag changes when the setting does.
func (s *Sandbox) setPublicAccess(body any, replaceTags bool) (map[string]any, error) {
	m, err := toMap(body)
	if err != nil {
		return nil, badRequest("InvalidRequestContent", "request body: %v", err)
	}
	e := s.lookup(s.cur.path)
	if e == nil {
		return nil, notFound(s.cur.path)
	}
	if err := checkCond(e.id, e, cond{ifMatch: s.cur.cond.ifMatch}); err != nil {
		return nil, err
	}
	want := str(m, "properties", "publicNetworkAccess")
	switch {
	case want == "":
	case strings.EqualFold(want, "Enabled"), strings.EqualFold(want, "Disabled"):
		props := ensure(e.body, "properties")
		if !strings.EqualFold(str(props, "publicNetworkAccess"), want) {
			props["publicNetworkAccess"] = want
			e.body["etag"] = `"` + s.nextETag(e.id) + `"`
		}
	default:
		return nil, badRequest("InvalidPublicNetworkAccess", "publicNetworkAccess %q is neither Enabled nor Disabled", want)
	}
	if tags, ok := m["tags"]; ok && replaceTags {
		e.body["tags"] = tags
	}
	return s.view(e, ""), nil
}

func publicLRO[T any](s *Sandbox, body any, replaceTags bool) (p azfake.PollerResponder[T], e azfake.ErrorResponder) {
	m, err := s.setPublicAccess(body, replaceTags)
	if err != nil {
		e.SetError(err)
		return
	}
	var v T
	if err := remarshal(m, &v); err != nil {
		e.SetError(err)
		return
	}
	for range s.lroPolls {
		p.AddNonTerminalResponse(http.StatusOK, nil)
	}
	p.SetTerminalResponse(http.StatusOK, v, nil)
	return
}
