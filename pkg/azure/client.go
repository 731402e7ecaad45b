package azure

import (
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
	DefaultFHIRDomain   = "azurehealthcareapis.com"
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
	return &Client{cred: cred, opts: opts, cfg: cfg, log: log, subs: map[string]*factories{}}, nil
}

// DefaultClientOptions are the ARM client options production uses: a few
// quick retries for 408/429/5xx, and a retry-delay cap well below one job's
// budget so that a 429 asking for a long pause comes back as a retryable
// *core.Error with RetryAfter instead of blocking the invocation.
func DefaultClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Retry: policy.RetryOptions{
				MaxRetries:    3,
				RetryDelay:    time.Second,
				MaxRetryDelay: 15 * time.Second,
				TryTimeout:    30 * time.Second,
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
