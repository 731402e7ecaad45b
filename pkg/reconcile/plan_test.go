package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// stateOf builds a State from a fake world as gather would for a target job.
func stateOf(f *fakeARM, job jobs.Job) State {
	s := State{Job: JobInfo{ID: job.ID, Subject: job.Subject, SubjectID: job.TargetID, CorrelationID: "corr-1", Deleted: job.Deleted, PrivateVerified: job.PrivateVerified},
		Now: t0, Endpoints: map[string]EndpointState{}, VNets: map[string]VNetState{}, Links: map[string][]core.VNetLink{}}
	for _, t := range f.targets {
		s.Targets = append(s.Targets, t)
	}
	for k, e := range f.endpoints {
		e := e
		s.Endpoints[k] = EndpointState{Endpoint: &e}
	}
	for k, v := range f.vnets {
		v := v
		s.VNets[k] = VNetState{VNet: &v}
	}
	s.Links[core.IDKey(zoneID)] = append([]core.VNetLink(nil), f.links[core.IDKey(zoneID)]...)
	return s
}

// summary renders a plan as one short line per action.
// summary lists the plan's actions, DNS findings left out: the fake policy
// manages only privatelink.fhir..., so every workspace endpoint gets
// findings for the workspace and dicom zones (TestDNSFindings covers them).
func summary(pl Plan) []string {
	var out []string
	for _, a := range pl.Actions {
		if a.Kind == KindDNSFinding {
			continue
		}
		line := string(a.Kind) + " " + core.NameOf(a.Resource)
		if a.Rule != "" {
			line += " rule=" + a.Rule
		}
		if a.Revoke {
			line += " revoke"
		}
		if a.Kind == KindScheduleVerify {
			j, _ := a.Job()
			line += fmt.Sprintf(" %s after=%s", j.Subject, j.NotBefore.Sub(t0))
		}
		out = append(out, line)
	}
	return out
}

func approvedWorld() *fakeARM {
	f := world()
	t := f.targets[core.IDKey(wsID)]
	t.Connections[0].Status = core.StatusApproved
	f.targets[core.IDKey(wsID)] = t
	return f
}

func convergedWorld() *fakeARM {
	f := approvedWorld()
	e := f.endpoints[core.IDKey(pe1ID)]
	e.ZoneGroups = []core.ZoneGroup{{Name: "default", ZoneIDs: []string{strings.ToUpper(zoneID)}}}
	f.endpoints[core.IDKey(pe1ID)] = e
	f.links[core.IDKey(zoneID)] = []core.VNetLink{
		{ID: zoneID + "/virtualNetworkLinks/a", ZoneID: zoneID, VNetID: strings.ToLower(spokeVNet), Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}},
		// created by someone else, different casing: counts as done
		{ID: zoneID + "/virtualNetworkLinks/hub-link", ZoneID: zoneID, VNetID: strings.Replace(hubVNet, "resourceGroups", "resourcegroups", 1)},
	}
	return f
}

func TestComputePlan(t *testing.T) {
	targetJob := reconcileJob(jobs.SubjectTarget, wsID)
	tests := []struct {
		name   string
		world  func() *fakeARM
		job    jobs.Job
		policy func(*fakePolicy)
		edit   func(*State)
		want   []string
		notes  []string // substrings expected among the notes
	}{
		{
			name:  "pending from allowed subscription: approve, zone group, endpoint VNet and peered VNet linked, verify",
			world: world, job: targetJob,
			want: []string{
				"approve pe1.c1 rule=allow-spokes",
				"add-zone-group pe1 rule=zoneGroup",
				"create-link spoke1 rule=linkEndpointVNets",
				"create-link hub rule=linkPeeredVNets",
				"schedule-verify ws1 rule=verification target after=5m30s",
				"schedule-verify pe1 rule=verification endpoint after=5m30s",
			},
		},
		{
			name: "pending from unknown subscription: rejected, no DNS work",
			world: func() *fakeARM {
				f := world()
				e := f.endpoints[core.IDKey(pe1ID)]
				e.SubscriptionID = subUnknown
				f.endpoints[core.IDKey(pe1ID)] = e
				return f
			},
			job:  targetJob,
			want: []string{"reject pe1.c1 rule=reject-unknown", "schedule-verify ws1 rule=verification target after=5m30s"},
		},
		{
			name: "pending from unknown subscription with no reject rule: left pending, plan empty of changes",
			world: func() *fakeARM {
				f := world()
				e := f.endpoints[core.IDKey(pe1ID)]
				e.SubscriptionID = subUnknown
				f.endpoints[core.IDKey(pe1ID)] = e
				return f
			},
			job: targetJob, policy: func(p *fakePolicy) { p.rejectUnknown = false },
			want: []string{"leave-pending pe1.c1"},
		},
		{
			name:  "already approved and DNS complete: no action",
			world: convergedWorld, job: targetJob,
			want: nil,
		},
		{
			name:  "already approved without DNS: zone group and links only",
			world: approvedWorld, job: targetJob,
			want: []string{
				"add-zone-group pe1 rule=zoneGroup",
				"create-link spoke1 rule=linkEndpointVNets",
				"create-link hub rule=linkPeeredVNets",
				"schedule-verify pe1 rule=verification endpoint after=5m30s",
			},
		},
		{
			name:  "approved connection explicitly revoked: rejected",
			world: convergedWorld, job: targetJob,
			policy: func(p *fakePolicy) { p.revoke = map[string]bool{conn1ID: true} },
			want:   []string{"reject pe1.c1 rule=revoke-list revoke", "schedule-verify ws1 rule=verification target after=5m30s"},
		},
		{
			name: "rejected connection never touched even when a rule would approve",
			world: func() *fakeARM {
				f := world()
				t := f.targets[core.IDKey(wsID)]
				t.Connections[0].Status = core.StatusRejected
				f.targets[core.IDKey(wsID)] = t
				return f
			},
			job: targetJob, want: nil,
		},
		{
			name:  "unreadable endpoint: policy sees nil, connection left pending, no DNS",
			world: world, job: targetJob,
			edit: func(s *State) {
				s.Endpoints[core.IDKey(pe1ID)] = EndpointState{Problem: "unreadable: 403"}
			},
			want: []string{"leave-pending pe1.c1"},
		},
		{
			name:  "audit mode plans the same actions",
			world: world, job: targetJob,
			policy: func(p *fakePolicy) { p.mode = policy.ModeAudit },
			want: []string{
				"approve pe1.c1 rule=allow-spokes",
				"add-zone-group pe1 rule=zoneGroup",
				"create-link spoke1 rule=linkEndpointVNets",
				"create-link hub rule=linkPeeredVNets",
				"schedule-verify ws1 rule=verification target after=5m30s",
				"schedule-verify pe1 rule=verification endpoint after=5m30s",
			},
		},
		{
			name:  "peered VNets not linked when the policy says so",
			world: approvedWorld, job: targetJob,
			policy: func(p *fakePolicy) { p.linkPeered = false; p.zoneGroup = false },
			want: []string{
				"create-link spoke1 rule=linkEndpointVNets",
				"schedule-verify pe1 rule=verification endpoint after=5m30s",
			},
		},
		{
			name:  "target outside governed subscriptions: left alone",
			world: world, job: targetJob,
			policy: func(p *fakePolicy) { p.subs = []string{subSpoke} },
			want:   nil, notes: []string{"not governed"},
		},
		{
			name: "VNet deleted: only links carrying the ownership tag removed",
			world: func() *fakeARM {
				f := world()
				f.links[core.IDKey(zoneID)] = []core.VNetLink{
					{ID: zoneID + "/virtualNetworkLinks/ours", ZoneID: zoneID, VNetID: spokeVNet, Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}},
					{ID: zoneID + "/virtualNetworkLinks/theirs", ZoneID: zoneID, VNetID: spokeVNet},
					{ID: zoneID + "/virtualNetworkLinks/hub", ZoneID: zoneID, VNetID: hubVNet, Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}},
				}
				return f
			},
			job: jobs.Job{ID: "j", Subject: jobs.SubjectVNet, TargetID: spokeVNet, Deleted: true},
			edit: func(s *State) {
				s.Targets, s.Endpoints = nil, map[string]EndpointState{}
				s.SubjectGone = true
				s.VNets[core.IDKey(spokeVNet)] = VNetState{Gone: true}
			},
			want:  []string{"remove-link ours rule=removeOwnLinksOnVNetDelete", "schedule-verify spoke1 rule=verification vnet after=5m30s"},
			notes: []string{"theirs of deleted VNet is not owned"},
		},
		{
			name:  "VNet matching a link rule and not linked: linked",
			world: world,
			job:   jobs.Job{ID: "j", Subject: jobs.SubjectVNet, TargetID: otherVNet},
			edit: func(s *State) {
				s.Targets = nil
				s.VNets[core.IDKey(otherVNet)] = VNetState{VNet: &core.VNet{ID: otherVNet, Name: "tagged", Tags: map[string]string{"link": "yes"}}}
				s.Candidates = []string{otherVNet}
			},
			want: []string{"create-link tagged rule=tagged-vnets", "schedule-verify tagged rule=verification vnet after=5m30s"},
		},
		{
			name:  "VNet matching a link rule already linked by someone else: nothing",
			world: world,
			job:   jobs.Job{ID: "j", Subject: jobs.SubjectVNet, TargetID: otherVNet},
			edit: func(s *State) {
				s.Targets = nil
				s.VNets[core.IDKey(otherVNet)] = VNetState{VNet: &core.VNet{ID: otherVNet, Name: "tagged", Tags: map[string]string{"link": "yes"}}}
				s.Candidates = []string{otherVNet}
				s.Links[core.IDKey(zoneID)] = []core.VNetLink{{ID: "x", VNetID: strings.ToUpper(otherVNet)}}
			},
			want: nil,
		},
		{
			name:  "subject gone: nothing to do",
			world: world, job: targetJob,
			edit: func(s *State) { s.SubjectGone = true; s.Targets = nil },
			want: nil, notes: []string{"does not exist"},
		},
		{
			name:  "zone links not listed: no link decision made blindly",
			world: approvedWorld, job: targetJob,
			policy: func(p *fakePolicy) { p.zoneGroup = false },
			edit:   func(s *State) { delete(s.Links, core.IDKey(zoneID)) },
			want:   nil, notes: []string{"not listed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakePolicy()
			if tt.policy != nil {
				tt.policy(p)
			}
			st := stateOf(tt.world(), tt.job)
			if tt.edit != nil {
				tt.edit(&st)
			}
			pl := ComputePlan(st, p)
			if diff := cmp.Diff(summary(pl), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s\nnotes: %q", diff, pl.Notes)
			}
			for _, n := range tt.notes {
				found := false
				for _, got := range pl.Notes {
					found = found || strings.Contains(got, n)
				}
				if !found {
					t.Errorf("notes %q lack %q", pl.Notes, n)
				}
			}
			// The same state planned twice gives the same plan (purity).
			if diff := cmp.Diff(ComputePlan(st, p), pl); diff != "" {
				t.Errorf("second ComputePlan differs (-got +want):\n%s", diff)
			}
		})
	}
}

func TestComputePlanDetails(t *testing.T) {
	p := newFakePolicy()
	pl := ComputePlan(stateOf(world(), reconcileJob(jobs.SubjectTarget, wsID)), p)
	var approve, link *Action
	for i := range pl.Actions {
		switch pl.Actions[i].Kind {
		case KindApprove:
			approve = &pl.Actions[i]
		case KindCreateLink:
			if link == nil {
				link = &pl.Actions[i]
			}
		}
	}
	if approve == nil || link == nil {
		t.Fatalf("plan lacks approve or create-link: %v", summary(pl))
	}
	if got, want := approve.Description, "approved by autopilot rule allow-spokes"; got != want {
		t.Errorf("approve description = %q, want the rule's %q", got, want)
	}
	want := core.LinkSpec{ZoneID: zoneID, VNetID: spokeVNet, Name: LinkName(spokeVNet)}
	spec, _ := link.Link()
	if diff := cmp.Diff(spec, want); diff != "" {
		t.Errorf("link spec (-got +want):\n%s", diff)
	}
	if !strings.HasPrefix(spec.Name, "autopilot-spoke1-") || len(spec.Name) > 80 {
		t.Errorf("link name %q, want autopilot-spoke1-<hash> within 80 chars", spec.Name)
	}
	if got := LinkName(strings.ToUpper(spokeVNet)); !strings.EqualFold(got, spec.Name) {
		t.Errorf("LinkName depends on ID casing: %q vs %q", got, spec.Name)
	}
	if got := len(pl.Changes()); got != 4 {
		t.Errorf("Changes() = %d, want 4 (approve, zone group, 2 links)", got)
	}
	if got := len(pl.FollowUps()); got != 2 {
		t.Errorf("FollowUps() = %d, want 2 verify jobs", got)
	}
	// the policy saw the endpoint and its VNet
	in := p.decided[0]
	if !in.EndpointReadable || in.Endpoint == nil || in.EndpointVNet == nil || in.EndpointVNet.Name != "spoke1" {
		t.Errorf("policy input = readable %v endpoint %v vnet %v, want endpoint pe1 in spoke1", in.EndpointReadable, in.Endpoint, in.EndpointVNet)
	}
}

func TestZoneGroupKeepsExistingZones(t *testing.T) {
	f := approvedWorld()
	e := f.endpoints[core.IDKey(pe1ID)]
	other := "/subscriptions/x/resourceGroups/r/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
	e.ZoneGroups = []core.ZoneGroup{{Name: "corp", ZoneIDs: []string{other}}}
	f.endpoints[core.IDKey(pe1ID)] = e
	pl := ComputePlan(stateOf(f, reconcileJob(jobs.SubjectTarget, wsID)), newFakePolicy())
	for _, a := range pl.Actions {
		if a.Kind == KindAddZoneGroup {
			want := core.ZoneGroupSpec{EndpointID: pe1ID, Name: "corp", ZoneIDs: []string{other, zoneID}}
			if diff := cmp.Diff(mustZoneGroup(t, a), want); diff != "" {
				t.Errorf("zone group spec (-got +want):\n%s", diff)
			}
			return
		}
	}
	t.Fatalf("no add-zone-group in %v", summary(pl))
}

// verifyJobs returns the verification jobs a plan schedules, by subject.
func verifyJobs(pl Plan) map[string]jobs.Job {
	out := map[string]jobs.Job{}
	for _, a := range pl.Actions {
		if a.Kind == KindScheduleVerify {
			j, _ := a.Job()
			out[string(j.Subject)+" "+core.NameOf(j.TargetID)] = j
		}
	}
	return out
}

// Two reconcile jobs that change one target in the same window (say the
// approval of one endpoint and the rejection of another) schedule the same
// verification job, so the queue runs it once, after the window has closed;
// a change in the next window gets a verification of its own.
func TestVerifyJobsOfOneWindowCollapse(t *testing.T) {
	p := newFakePolicy()
	first := stateOf(world(), reconcileJob(jobs.SubjectTarget, wsID))
	second := stateOf(world(), reconcileJob(jobs.SubjectEndpoint, pe1ID))
	second.Job.ID = jobs.NewID(jobs.KindReconcile, jobs.SubjectEndpoint, pe1ID, "evt-2")
	second.Now = t0.Add(FollowUpWindow - time.Second)
	a, b := verifyJobs(ComputePlan(first, p)), verifyJobs(ComputePlan(second, p))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("verification jobs %v and %v, want the same subjects from both jobs", a, b)
	}
	due := t0.Add(FollowUpWindow + p.Verification().Delay)
	for k, ja := range a {
		jb, ok := b[k]
		if !ok || ja.ID != jb.ID {
			t.Errorf("verification of %s: ids %q and %q from two jobs in one window, want one id (duplicate detection collapses them)", k, ja.ID, jb.ID)
		}
		if !ja.NotBefore.Equal(due) || !jb.NotBefore.Equal(due) {
			t.Errorf("verification of %s due %v and %v, want %v: the window's end plus the policy's delay", k, ja.NotBefore, jb.NotBefore, due)
		}
	}
	third := stateOf(world(), reconcileJob(jobs.SubjectTarget, wsID))
	third.Now = t0.Add(FollowUpWindow)
	for k, jc := range verifyJobs(ComputePlan(third, p)) {
		if jc.ID == a[k].ID {
			t.Errorf("verification of %s in the next window reuses id %q, want a new job: the earlier one may have run already", k, jc.ID)
		}
	}
}

// A policy with a verification delay shorter than FollowUpWindow gets its
// check within twice the delay, not after the window.
func TestShortVerifyDelayIsNotStretchedToTheWindow(t *testing.T) {
	p := newFakePolicy()
	p.delay = time.Second
	s := stateOf(world(), reconcileJob(jobs.SubjectTarget, wsID))
	s.Now = t0.Add(1500 * time.Millisecond)
	vs := verifyJobs(ComputePlan(s, p))
	if len(vs) == 0 {
		t.Fatal("no verification scheduled after an approval")
	}
	for k, j := range vs {
		if due := t0.Add(3 * time.Second); !j.NotBefore.Equal(due) {
			t.Errorf("verification of %s due %v, want %v: the end of the 1s window plus the 1s delay", k, j.NotBefore, due)
		}
	}
}

func mustZoneGroup(t *testing.T, a Action) core.ZoneGroupSpec {
	t.Helper()
	g, ok := a.ZoneGroup()
	if !ok {
		t.Fatalf("%s action on %s carries no zone group", a.Kind, a.Resource)
	}
	return g
}
