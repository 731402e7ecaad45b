package azure

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
)

// retag rewrites a link in the sandbox as someone else would (a new ETag),
// with the given tags.
func retag(t *testing.T, sb interface {
	Get(string) (json.RawMessage, bool)
	Put(json.RawMessage) error
}, id string, tags map[string]string) {
	t.Helper()
	raw, ok := sb.Get(id)
	if !ok {
		t.Fatalf("link %s not in the sandbox", id)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	tm := map[string]any{}
	for k, v := range tags {
		tm[k] = v
	}
	m["tags"] = tm
	b, _ := json.Marshal(m)
	if err := sb.Put(b); err != nil {
		t.Fatalf("rewrite %s: %v", id, err)
	}
}

// A link changed by someone else between the plan's read and the delete:
// ARM answers 412 to the stale ETag. The retry holds the delete to the ETag
// read after the 412 (resending the stale one could only fail again), and
// still refuses once the link is no longer the autopilot's.
func TestDeleteVNetLinkAfterAConcurrentChange(t *testing.T) {
	ctx := context.Background()
	t.Run("still ours: deleted within the call", func(t *testing.T) {
		sb, c, _ := newContractClock(t)
		if _, err := c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke}); err != nil {
			t.Fatal(err)
		}
		stale, ok := linkFor(t, c, cSpoke)
		if !ok {
			t.Fatal("no spoke link after EnsureVNetLink")
		}
		retag(t, sb, stale.ID, map[string]string{core.OwnerTagKey: core.OwnerTagValue, "costCentre": "42"})
		if fresh, _ := linkFor(t, c, cSpoke); fresh.ETag == stale.ETag {
			t.Fatal("the rewrite kept the ETag: the test proves nothing")
		}
		res, err := c.DeleteVNetLink(ctx, stale)
		if err != nil || !res.Changed {
			t.Fatalf("DeleteVNetLink with a stale ETag: %+v, %v; want the link deleted in the same call", res, err)
		}
		if _, ok := linkFor(t, c, cSpoke); ok {
			t.Error("the spoke link is still there")
		}
	})
	t.Run("no longer ours: refused, kept", func(t *testing.T) {
		sb, c, _ := newContractClock(t)
		if _, err := c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke}); err != nil {
			t.Fatal(err)
		}
		stale, _ := linkFor(t, c, cSpoke)
		retag(t, sb, stale.ID, map[string]string{"owner": "network-team"})
		_, err := c.DeleteVNetLink(ctx, stale)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Class != core.Fatal || ce.Code != CodeNotOwned {
			t.Fatalf("deleting a link someone took over: %v, want fatal %s", err, CodeNotOwned)
		}
		if _, ok := linkFor(t, c, cSpoke); !ok {
			t.Error("the link someone took over was deleted")
		}
	})
}
