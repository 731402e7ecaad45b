package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	hcfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis/fake"
	nwfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	dnsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns/fake"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
)

// Sandbox is an in-memory set of Azure subscriptions served through the
// SDK's fake servers. Safe for concurrent use.
type Sandbox struct {
	mu       sync.Mutex
	res      map[string]*entry
	warnings []string
	etagSeq  int
	cur      *call // the request being dispatched (under mu)

	clock     clock.Sleeper
	latency   time.Duration
	lroPolls  int
	linkReads int
	retry     policy.RetryOptions

	// publicDelay and publicChanges model the propagation of
	// publicNetworkAccess to the data plane (public.go).
	publicDelay   time.Duration
	publicChanges map[string]publicChange

	faults   Faults
	ruleHits []int
	// failingOps are long-running operations an LRO fault accepted, by
	// path: their next poll reports the failure.
	failingOps map[string]*armError
	rng        *rand.Rand
	throttle   Throttling
	buckets    map[string]*bucket
	stats      Stats
	transport  *transport
	cred       *azfake.TokenCredential

	hc  *hcfake.ServerFactoryTransport
	nw  *nwfake.ServerFactoryTransport
	dns *dnsfake.ServerFactoryTransport
}

// Option configures a Sandbox; options override the scenario's settings.
type Option func(*Sandbox)

// WithClock sets the time source for latency and token buckets (default:
// clock.Real).
func WithClock(c clock.Sleeper) Option { return func(s *Sandbox) { s.clock = c } }

// WithLatency adds d to every call.
func WithLatency(d time.Duration) Option { return func(s *Sandbox) { s.latency = d } }

// WithLROPolls makes long-running operations answer "InProgress" n times
// before completing.
func WithLROPolls(n int) Option { return func(s *Sandbox) { s.lroPolls = n } }

// WithLinkInProgressReads makes new VNet links read "InProgress" for n GETs.
func WithLinkInProgressReads(n int) Option { return func(s *Sandbox) { s.linkReads = n } }

// WithPublicAccessDelay sets how long a change of a target's
// publicNetworkAccess takes to reach its public listener (default
// DefaultPublicAccessDelay, or the scenario's publicAccessDelay), measured
// on the sandbox's clock.
func WithPublicAccessDelay(d time.Duration) Option { return func(s *Sandbox) { s.publicDelay = d } }

// WithFaultRules adds fault rules to the scenario's.
func WithFaultRules(rules ...FaultRule) Option {
	return func(s *Sandbox) { s.faults.Rules = append(s.faults.Rules, rules...) }
}

// WithRandomFaults replaces the scenario's random faults and seed.
func WithRandomFaults(seed int64, faults ...RandomFault) Option {
	return func(s *Sandbox) { s.faults.Seed, s.faults.Random = seed, faults }
}

// WithThrottling replaces the scenario's token-bucket settings.
func WithThrottling(t Throttling) Option { return func(s *Sandbox) { s.throttle = t } }

// WithoutThrottling switches the token buckets off.
func WithoutThrottling() Option { return func(s *Sandbox) { s.throttle.Disabled = true } }

// Load reads a scenario file and builds a sandbox from it.
func Load(path string, opts ...Option) (*Sandbox, error) {
	sc, err := LoadScenario(path)
	if err != nil {
		return nil, err
	}
	return New(sc, opts...)
}

// New builds a sandbox from a scenario (nil: an empty one).
func New(sc *Scenario, opts ...Option) (*Sandbox, error) {
	if sc == nil {
		sc = &Scenario{}
	}
	s := &Sandbox{
		res:       map[string]*entry{},
		clock:     clock.Real{},
		latency:   time.Duration(sc.Latency),
		lroPolls:  sc.LROPolls,
		linkReads: sc.LinkInProgressReads,
		faults:    sc.Faults,
		throttle:  sc.Throttling,
		buckets:   map[string]*bucket{},
		cred:      &azfake.TokenCredential{},

		failingOps:    map[string]*armError{},
		publicDelay:   DefaultPublicAccessDelay,
		publicChanges: map[string]publicChange{},
		retry: policy.RetryOptions{
			MaxRetries:    3,
			RetryDelay:    10 * time.Millisecond,
			MaxRetryDelay: 2 * time.Second,
		},
	}
	if sc.PublicAccessDelay != nil {
		s.publicDelay = time.Duration(*sc.PublicAccessDelay)
	}
	s.faults.Rules = append([]FaultRule(nil), s.faults.Rules...)
	for _, o := range opts {
		o(s)
	}
	if s.publicDelay < 0 {
		return nil, fmt.Errorf("%s: publicAccessDelay %s is negative", sourceOr(sc.source), s.publicDelay)
	}
	s.ruleHits = make([]int, len(s.faults.Rules))
	s.rng = rand.New(rand.NewPCG(uint64(s.faults.Seed), 0x5eed))
	s.stats = newStats()
	if err := s.load(sc); err != nil {
		return nil, err
	}
	s.hc = hcfake.NewServerFactoryTransport(s.healthcareServers())
	s.nw = nwfake.NewServerFactoryTransport(s.networkServers())
	s.dns = dnsfake.NewServerFactoryTransport(s.privateDNSServers())
	s.transport = &transport{s: s}
	return s, nil
}

// Transport is the policy.Transporter serving all three SDK modules.
func (s *Sandbox) Transport() policy.Transporter { return s.transport }

// Credential is a fake token credential accepted by the sandbox.
func (s *Sandbox) Credential() azcore.TokenCredential { return s.cred }

// ClientOptions returns options for any arm client: the sandbox transport
// and short retry delays (Retry-After is still honoured up to MaxRetryDelay).
// Each call returns a fresh value callers may modify.
func (s *Sandbox) ClientOptions() *arm.ClientOptions {
	o := &arm.ClientOptions{}
	o.Transport = s.transport
	o.Retry = s.retry
	return o
}

// Clock returns the sandbox's time source.
func (s *Sandbox) Clock() clock.Sleeper { return s.clock }

// Warnings lists what loading noticed but accepted (unknown types,
// inconsistencies between resources).
func (s *Sandbox) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.warnings...)
}

// SubscriptionIDs lists the subscriptions that hold resources, sorted.
func (s *Sandbox) SubscriptionIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]string{}
	for _, e := range s.res {
		sub := core.SubscriptionOf(e.id)
		seen[strings.ToLower(sub)] = sub
	}
	out := make([]string, 0, len(seen))
	for _, v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Get returns a resource as a GET through ARM would (children embedded),
// as JSON.
func (s *Sandbox) Get(id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(id)
	if e == nil {
		return nil, false
	}
	ir := e.inProgressReads
	b, err := json.Marshal(s.view(e, ""))
	e.inProgressReads = ir // inspecting does not count as a read
	if err != nil {
		return nil, false
	}
	return b, true
}

// Snapshot returns every stored resource as stored (children separate, not
// embedded), sorted by lower-cased ID: a stable final state for golden files.
func (s *Sandbox) Snapshot() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.res))
	for k := range s.res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		b, err := json.Marshal(s.res[k].body)
		if err != nil {
			continue // bodies are decoded JSON and always marshal
		}
		out = append(out, b)
	}
	return out
}

// Put creates or replaces a resource as a user acting outside the autopilot
// would, with ARM's side effects: a new endpoint gets a NIC and IP when it
// has none, and its manual (auto) connections create Pending (Approved)
// connections on their targets; a zone group on an approved endpoint
// creates its A records. It does not count as an API call.
func (s *Sandbox) Put(resource json.RawMessage) error {
	m, err := toMap(resource)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	id := str(m, "id")
	if id == "" {
		return fmt.Errorf("put: resource has no id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if field, msg := validate(m); field != "" {
		return fmt.Errorf("put %s: field %s: %s", id, field, msg)
	}
	if e := s.lookup(id); e != nil && (e.typ == tWorkspace || e.typ == tService) && !strings.EqualFold(publicSetting(e.body), publicSetting(m)) {
		s.notePublicChange(e) // a person turning public access on or off
	}
	if _, aerr := s.put(id, m, cond{}, fromUser); aerr != nil {
		return fmt.Errorf("put %s: %w", id, aerr)
	}
	return nil
}

// Delete removes a resource and what ARM removes with it (an endpoint's
// NIC, zone groups, their records and its connections on targets).
func (s *Sandbox) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookup(id) == nil {
		return fmt.Errorf("delete %s: %w", id, notFound(id))
	}
	if aerr := s.remove(id, cond{}); aerr != nil {
		return fmt.Errorf("delete %s: %w", id, aerr)
	}
	return nil
}

// AddFaultRule adds a fault rule at run time.
func (s *Sandbox) AddFaultRule(r FaultRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Rules = append(s.faults.Rules, r)
	s.ruleHits = append(s.ruleHits, 0)
}

// ClearFaults removes all fault rules and random faults.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Rules, s.faults.Random, s.ruleHits = nil, nil, nil
}

// load stores the scenario's resources.
func (s *Sandbox) load(sc *Scenario) error {
	src := sc.source
	if src == "" {
		src = "scenario"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	standalone := map[string]int{}
	for i, raw := range sc.Resources {
		m, err := toMap(raw)
		if err != nil {
			return fmt.Errorf("%s: resource %d: %w", src, i, err)
		}
		id := str(m, "id")
		if field, msg := validate(m); field != "" {
			return fmt.Errorf("%s: resource %d (%s): field %s: %s", src, i, idOr(id), field, msg)
		}
		typ, _ := typeOf(id)
		lt := strings.ToLower(typ)
		if err := modelCheck(lt, raw); err != nil {
			return fmt.Errorf("%s: resource %d (%s): %w", src, i, id, err)
		}
		if j, dup := standalone[core.IDKey(id)]; dup {
			return fmt.Errorf("%s: resource %d (%s): field id: duplicate of resource %d", src, i, id, j)
		}
		standalone[core.IDKey(id)] = i
		if err := s.validateChildren(m, lt); err != nil {
			return fmt.Errorf("%s: resource %d (%s): %w", src, i, id, err)
		}
		if !known(lt) {
			s.warnings = append(s.warnings, fmt.Sprintf("%s: resource %d (%s): type %s is not modelled; stored and readable with Get only", src, i, id, typ))
		}
		if _, aerr := s.put(id, m, cond{}, fromLoad); aerr != nil {
			return fmt.Errorf("%s: resource %d (%s): %w", src, i, id, aerr)
		}
	}
	s.checkConsistency(src)
	return nil
}

func idOr(id string) string {
	if id == "" {
		return "no id"
	}
	return id
}

// validateChildren checks children embedded in a parent body.
func (s *Sandbox) validateChildren(m map[string]any, lt string) error {
	key, ct := "", ""
	switch lt {
	case tWorkspace, tService:
		key, ct = "privateEndpointConnections", lt+"/privateendpointconnections"
	case tVNet:
		key, ct = "virtualNetworkPeerings", tPeering
	case tPE:
		key, ct = "privateDnsZoneGroups", tZoneGroup
	default:
		return nil
	}
	for i, c := range objs(arr(m, "properties", key)) {
		if str(c, "id") == "" && str(c, "name") == "" {
			return fmt.Errorf("field properties.%s[%d]: needs an id or a name", key, i)
		}
		if str(c, "id") != "" {
			if t, _ := typeOf(str(c, "id")); !strings.EqualFold(t, canonicalType[ct]) {
				return fmt.Errorf("field properties.%s[%d].id: %q is not a %s id", key, i, str(c, "id"), canonicalType[ct])
			}
		}
		if field, msg := validateProps(ct, c); field != "" {
			return fmt.Errorf("field properties.%s[%d].%s: %s", key, i, field, msg)
		}
		b, _ := json.Marshal(c)
		if err := modelCheck(ct, b); err != nil {
			return fmt.Errorf("field properties.%s[%d]: %w", key, i, err)
		}
	}
	return nil
}

// checkConsistency warns about references the scenario leaves dangling.
func (s *Sandbox) checkConsistency(src string) {
	keys := make([]string, 0, len(s.res))
	for k := range s.res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := s.res[k]
		if e.typ != tPE {
			continue
		}
		manual, auto := endpointConns(e.body)
		for _, c := range append(manual, auto...) {
			t := s.lookup(str(c, "properties", "privateLinkServiceId"))
			if t == nil || (t.typ != tWorkspace && t.typ != tService) {
				continue
			}
			found := false
			for _, tc := range s.children(t.id, t.typ+"/privateendpointconnections") {
				if core.SameID(str(tc.body, "properties", "privateEndpoint", "id"), e.id) {
					found = true
				}
			}
			if !found {
				s.warnings = append(s.warnings, fmt.Sprintf("%s: endpoint %s connects to %s, which has no connection for it", src, e.id, t.id))
			}
		}
	}
}
