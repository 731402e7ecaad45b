package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/plautopilot/autopilot/pkg/core"
)

// SetPublicNetworkAccess sets the target's publicNetworkAccess to access
// (core.PublicAccessEnabled or core.PublicAccessDisabled). It reads the
// target first and writes nothing when the setting is already as wanted.
//
// A legacy service is PATCHed (ServicesPatchDescription carries
// publicNetworkAccess). A workspace's PATCH body (WorkspacePatchResource)
// carries only tags, so a workspace is PUT with its location, tags and the
// new setting (its other properties are read-only; its private endpoint
// connections are child resources a PUT does not touch).
//
// Like the other writes it is retried as a whole (again): each try reads the
// target afresh, so a busy 409 or a long-running operation that failed as
// busy is re-read and sent again within the job's budget.
func (c *Client) SetPublicNetworkAccess(ctx context.Context, t core.Target, access string) (core.WriteResult, error) {
	return again(ctx, c, func() (core.WriteResult, error) { return c.setPublicNetworkAccess(ctx, t, access) })
}

func (c *Client) setPublicNetworkAccess(ctx context.Context, t core.Target, access string) (core.WriteResult, error) {
	op := "set public network access " + strings.ToLower(access)
	if access != core.PublicAccessEnabled && access != core.PublicAccessDisabled {
		return core.WriteResult{}, refuse(op, t.ID, CodeInvalidSpec, "publicNetworkAccess %q is neither Enabled nor Disabled", access)
	}
	r, err := c.resolve(op, t.ID, core.TypeWorkspace, core.TypeService)
	if err != nil {
		return core.WriteResult{}, err
	}
	rg, name := r.id.ResourceGroupName, r.id.Name
	want := armhealthcareapis.PublicNetworkAccess(access)
	if strings.EqualFold(r.id.ResourceType.String(), core.TypeWorkspace) {
		cl := r.f.health.NewWorkspacesClient()
		got, err := cl.Get(ctx, rg, name, nil)
		if err != nil {
			return core.WriteResult{}, classify(op, t.ID, err)
		}
		if p := got.Properties; p != nil && p.PublicNetworkAccess != nil && strings.EqualFold(string(*p.PublicNetworkAccess), access) {
			return core.WriteResult{}, nil
		}
		body := armhealthcareapis.Workspace{Location: got.Location, Tags: got.Tags,
			Properties: &armhealthcareapis.WorkspaceProperties{PublicNetworkAccess: to.Ptr(want)}}
		p, err := cl.BeginCreateOrUpdate(ctx, rg, name, body, nil)
		if err != nil {
			return core.WriteResult{}, classify(op, t.ID, err)
		}
		_, done, token, err := wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
		return c.logPublic(op, t.ID, access)(c.finish(op, t.ID, done, token, err))
	}
	cl := r.f.health.NewServicesClient()
	got, err := cl.Get(ctx, rg, name, nil)
	if err != nil {
		return core.WriteResult{}, classify(op, t.ID, err)
	}
	if p := got.Properties; p != nil && p.PublicNetworkAccess != nil && strings.EqualFold(string(*p.PublicNetworkAccess), access) {
		return core.WriteResult{}, nil
	}
	p, err := cl.BeginUpdate(ctx, rg, name, armhealthcareapis.ServicesPatchDescription{
		Properties: &armhealthcareapis.ServicesPropertiesUpdateParameters{PublicNetworkAccess: to.Ptr(want)}}, nil)
	if err != nil {
		return core.WriteResult{}, classify(op, t.ID, err)
	}
	_, done, token, err := wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
	return c.logPublic(op, t.ID, access)(c.finish(op, t.ID, done, token, err))
}

func (c *Client) logPublic(op, id, access string) func(core.WriteResult, error) (core.WriteResult, error) {
	return func(res core.WriteResult, err error) (core.WriteResult, error) {
		if err == nil {
			c.log.Info().Str("op", op).Str("id", id).Str("to", access).Bool("inProgress", res.InProgress).Msg("public network access written")
		}
		return res, err
	}
}
