package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Defaults for Config.
const (
	DefaultLROWait      = 20 * time.Second
	DefaultPollInterval = time.Second
	// DefaultTryTimeout bounds one HTTP try (DefaultClientOptions).
	DefaultTryTimeout = 10 * time.Second
	DefaultFHIRDomain = "azurehealthcareapis.com"
	// DefaultZoneGroupName is the name given to zone groups the autopilot
	// creates when the spec names none (the portal uses the same).
	DefaultZoneGroupName = "default"
)

// Config tunes the adapter. The zero value is usable.
type Config struct {
	// LROWait bounds how long one write waits for a long-running operation
	// before handing back a resume token (default 20s).
	LROWait time.Duration
	// PollInterval is the delay between LRO status polls (default 1s).
	PollInterval time.Duration
	// FHIRDomain is the public DNS suffix of FHIR endpoints (default
	// azurehealthcareapis.com; sovereign clouds differ).
	FHIRDomain string
	// Logger receives one structured line per write (nil: no logging).
	Logger *zerolog.Logger
	// Retry tunes the adapter's retries of transient failures (see
	// RetryOptions; the zero value is the production setting).
	Retry RetryOptions
	// Sleep waits between retries (nil: a timer that ends with ctx). A
	// simulation passes its clock's.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock retry budgets are measured on (nil: time.Now).
	Now func() time.Time
	// Rand returns a number in [0,1) for the back-off jitter (nil:
	// math/rand/v2).
	Rand func() float64
}

func (c Config) withDefaults() Config {
	if c.LROWait <= 0 {
		c.LROWait = DefaultLROWait
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.FHIRDomain == "" {
		c.FHIRDomain = DefaultFHIRDomain
	}
	c.FHIRDomain = strings.Trim(strings.ToLower(c.FHIRDomain), ".")
	c.Retry = c.Retry.withDefaults()
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = defaultRand
	}
	return c
}

// Client implements core.ARM over the Azure SDK. It is safe for concurrent
// use; SDK clients are built lazily per subscription and cached.
type Client struct {
	cred azcore.TokenCredential
	opts *arm.ClientOptions
	cfg  Config
	log  zerolog.Logger

	mu   sync.Mutex
	subs map[string]*factories
}

var _ core.ARM = (*Client)(nil)

type factories struct {
	health  *armhealthcareapis.ClientFactory
	network *armnetwork.ClientFactory
	dns     *armprivatedns.ClientFactory
}

// New returns a Client. opts nil means DefaultClientOptions().
func New(cred azcore.TokenCredential, opts *arm.ClientOptions, cfg Config) (*Client, error) {
	if cred == nil {
		return nil, errors.New("azure client needs a credential")
	}
	if opts == nil {
		opts = DefaultClientOptions()
	}
	cfg = cfg.withDefaults()
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = cfg.Logger.With().Str("component", "azure").Logger()
	}
	c := &Client{cfg: cfg, log: log, cred: cred, subs: map[string]*factories{}}
	// the adapter's retry runs first, outside azcore's retry policy and any
	// caller policies, so its budget covers everything below it
	o := *opts
	o.PerCallPolicies = append([]policy.Policy{retryPolicy{c: c}}, opts.PerCallPolicies...)
	c.opts = &o
	return c, nil
}

// DefaultClientOptions are the ARM client options production uses: a few
// quick retries for 408/429/5xx, and a retry-delay cap well below one job's
// budget so that a 429 asking for a long pause goes to the adapter's own
// retry (RetryOptions), which waits for it only when it fits in the job's
// budget and otherwise returns a retryable *core.Error with RetryAfter
// instead of blocking the invocation. One try is given 10 s: ARM answers a
// read or the first response of a write in well under a second, and a try
// that hangs longer is better sent again than waited for (every write of the
// adapter can be sent twice).
func DefaultClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Retry: policy.RetryOptions{
				MaxRetries:    3,
				RetryDelay:    time.Second,
				MaxRetryDelay: 15 * time.Second,
				TryTimeout:    DefaultTryTimeout,
			},
			Telemetry: policy.TelemetryOptions{ApplicationID: "privatelink-autopilot"},
		},
	}
}

// InAzure reports whether the process runs where a managed identity
// endpoint is available (App Service / Functions set IDENTITY_ENDPOINT, older
// hosts MSI_ENDPOINT). getenv is os.Getenv in main; the package itself never
// reads the environment.
func InAzure(getenv func(string) string) bool {
	return getenv("IDENTITY_ENDPOINT") != "" || getenv("MSI_ENDPOINT") != ""
}

// NewCredential returns a managed identity credential when managed is true
// (the user-assigned identity with clientID when set, else the system
// identity), and DefaultAzureCredential otherwise (developer machines: Azure
// CLI, azd, environment).
func NewCredential(clientID string, managed bool) (azcore.TokenCredential, error) {
	if managed {
		o := &azidentity.ManagedIdentityCredentialOptions{}
		if clientID != "" {
			o.ID = azidentity.ClientID(clientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return nil, fmt.Errorf("managed identity credential: %w", err)
		}
		return cred, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("default azure credential: %w", err)
	}
	return cred, nil
}

// clients returns the cached client factories of a subscription.
func (c *Client) clients(subscriptionID string) (*factories, error) {
	if subscriptionID == "" {
		return nil, errors.New("empty subscription id")
	}
	key := strings.ToLower(subscriptionID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.subs[key]; ok {
		return f, nil
	}
	h, err := armhealthcareapis.NewClientFactory(subscriptionID, c.cred, c.opts)
	if err != nil {
		return nil, fmt.Errorf("healthcareapis clients for subscription %s: %w", subscriptionID, err)
	}
	n, err := armnetwork.NewClientFactory(subscriptionID, c.cred, c.opts)
	if err != nil {
		return nil, fmt.Errorf("network clients for subscription %s: %w", subscriptionID, err)
	}
	d, err := armprivatedns.NewClientFactory(subscriptionID, c.cred, c.opts)
	if err != nil {
		return nil, fmt.Errorf("private dns clients for subscription %s: %w", subscriptionID, err)
	}
	f := &factories{health: h, network: n, dns: d}
	c.subs[key] = f
	return f, nil
}

// resource is a parsed, type-checked resource ID with its factories.
type resource struct {
	id  *arm.ResourceID
	raw string
	f   *factories
}

// resolve parses id, checks that it names a resource of one of the wanted
// types (compared case-insensitively) and returns the subscription's
// clients. Failures are fatal *core.Error values naming the input.
func (c *Client) resolve(op, id string, wantTypes ...string) (resource, error) {
	rid, err := arm.ParseResourceID(strings.TrimRight(strings.TrimSpace(id), "/"))
	if err != nil {
		return resource{}, invalidID(op, id, err)
	}
	if len(wantTypes) > 0 {
		ok := false
		for _, t := range wantTypes {
			if strings.EqualFold(rid.ResourceType.String(), t) {
				ok = true
				break
			}
		}
		if !ok {
			return resource{}, invalidID(op, id, fmt.Errorf("resource type %s is not %s", rid.ResourceType.String(), strings.Join(wantTypes, " or ")))
		}
	}
	f, err := c.clients(rid.SubscriptionID)
	if err != nil {
		return resource{}, invalidID(op, id, err)
	}
	return resource{id: rid, raw: id, f: f}, nil
}

func invalidID(op, id string, err error) error {
	return &core.Error{Class: core.Fatal, Op: op, ResourceID: id, Code: "InvalidResourceID", Err: err}
}
