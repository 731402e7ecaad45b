package autopilot

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// ErrNotGoverned marks a subject outside what the policy governs: a target
// the policy does not list or cover, an endpoint with no connection to a
// governed target, a VNet linked to no managed zone. The API answers 403
// and does nothing with it: neither a verification job (whose probes would
// go wherever the subject points) nor a plan.
var ErrNotGoverned = errors.New("not governed by the policy")

// checkGoverned refuses a verification or evaluation subject the policy
// does not govern. Targets are judged from the id alone, before any ARM
// read; endpoints and VNets need one read (and a VNet one listing of each
// managed zone's links). A subject ARM says does not exist is ErrNotFound;
// one whose governance could not be read is a plain error (503: try again).
func (s *Service) checkGoverned(ctx context.Context, subject jobs.Subject, id string) error {
	pol := s.cfg.Policy
	switch subject {
	case jobs.SubjectTarget:
		if !pol.Governs(id) {
			return fmt.Errorf("%w: %s is not a target the policy governs (targets: subscriptions %v, types %v, ids %d)",
				ErrNotGoverned, id, pol.Subscriptions(), pol.TargetTypes(), len(pol.TargetIDs()))
		}
		return nil
	case jobs.SubjectEndpoint:
		ep, err := s.cfg.ARM.GetEndpoint(ctx, id)
		if core.IsNotFound(err) {
			return fmt.Errorf("%w: private endpoint %s does not exist (ARM answered %s)", ErrNotFound, id, briefARM(err))
		}
		if err != nil {
			return fmt.Errorf("read private endpoint %s to check it is governed: %s", id, briefARM(err))
		}
		for _, c := range ep.Connections {
			if pol.Governs(c.TargetID) {
				return nil
			}
		}
		return fmt.Errorf("%w: private endpoint %s has no connection to a governed target", ErrNotGoverned, id)
	case jobs.SubjectVNet:
		vn, err := s.cfg.ARM.GetVNet(ctx, id)
		if core.IsNotFound(err) {
			return fmt.Errorf("%w: VNet %s does not exist (ARM answered %s)", ErrNotFound, id, briefARM(err))
		} else if err != nil {
			return fmt.Errorf("read VNet %s to check it is governed: %s", id, briefARM(err))
		}
		// The VNet, or a VNet it is peered with (a spoke of a linked hub,
		// still waiting for its own link), is linked to a managed zone.
		near := []string{id}
		for _, p := range vn.Peerings {
			near = append(near, p.RemoteVNetID)
		}
		for _, z := range pol.Zones() {
			links, err := s.cfg.ARM.ListVNetLinks(ctx, z.ID)
			if err != nil {
				return fmt.Errorf("list the VNet links of %s to check %s is governed: %s", z.Name, id, briefARM(err))
			}
			for _, l := range links {
				if slices.ContainsFunc(near, func(v string) bool { return core.SameID(l.VNetID, v) }) {
					return nil
				}
			}
		}
		return fmt.Errorf("%w: VNet %s, and every VNet it is peered with, is linked to none of the managed private DNS zones", ErrNotGoverned, id)
	}
	return fmt.Errorf("%w: subject %s of %s", ErrInvalid, subject, id)
}
