package policy

// spec is the policy file as written. It is decoded strictly (unknown keys
// are errors) and then validated and compiled into a Policy.
type spec struct {
	APIVersion                 string          `yaml:"apiVersion"`
	Version                    *int            `yaml:"version"`
	Mode                       string          `yaml:"mode"`
	Targets                    *targetsSpec    `yaml:"targets"`
	Zones                      []string        `yaml:"zones"`
	DefaultDecision            string          `yaml:"defaultDecision"`
	DefaultDescription         string          `yaml:"defaultDescription"`
	ConnectionRules            []connRuleSpec  `yaml:"connectionRules"`
	LinkRules                  []linkRuleSpec  `yaml:"linkRules"`
	RemoveOwnLinksOnVNetDelete bool            `yaml:"removeOwnLinksOnVNetDelete"`
	LinkEndpointVNets          *bool           `yaml:"linkEndpointVNets"`
	LinkPeeredVNets            *bool           `yaml:"linkPeeredVNets"`
	ZoneGroups                 *zoneGroupsSpec `yaml:"zoneGroups"`
	Verification               *verifySpec     `yaml:"verification"`
}

type targetsSpec struct {
	Subscriptions []string `yaml:"subscriptions"`
	AllOfType     []string `yaml:"allOfType"`
	IDs           []string `yaml:"ids"`
	// PublicNetworkAccess is leave (default), audit or
	// disableAfterVerification: the default for every governed target.
	PublicNetworkAccess string `yaml:"publicNetworkAccess"`
	// PublicNetworkAccessBy overrides the default for the governed targets
	// a selection matches; the first matching selection wins.
	PublicNetworkAccessBy []publicAccessSelSpec `yaml:"publicNetworkAccessBy"`
}

// publicAccessSelSpec is one entry of targets.publicNetworkAccessBy.
type publicAccessSelSpec struct {
	Name  string           `yaml:"name"`
	Match *targetMatchSpec `yaml:"match"`
	Mode  string           `yaml:"mode"`
}

// targetMatchSpec selects governed targets with the targets block's
// vocabulary (types as in allOfType, ids, subscriptions) plus resource
// groups and tags. Every criterion given must hold; a list matches when
// any of its entries does.
type targetMatchSpec struct {
	Types          []string          `yaml:"types"`
	IDs            []string          `yaml:"ids"`
	Subscriptions  []string          `yaml:"subscriptions"`
	ResourceGroups []string          `yaml:"resourceGroups"`
	Tags           map[string]string `yaml:"tags"`
}

type connRuleSpec struct {
	Name                    string `yaml:"name"`
	When                    string `yaml:"when"`
	Decision                string `yaml:"decision"`
	Description             string `yaml:"description"`
	AllowUnreadableEndpoint bool   `yaml:"allowUnreadableEndpoint"`
	Revoke                  bool   `yaml:"revoke"`
}

type linkRuleSpec struct {
	Name                string   `yaml:"name"`
	When                string   `yaml:"when"`
	Zones               []string `yaml:"zones"`
	RegistrationEnabled bool     `yaml:"registrationEnabled"`
	ResolutionPolicy    string   `yaml:"resolutionPolicy"`
}

type zoneGroupsSpec struct {
	Enabled *bool  `yaml:"enabled"`
	Name    string `yaml:"name"`
}

type verifySpec struct {
	Delay         string `yaml:"delay"`
	Attempts      *int   `yaml:"attempts"`
	Backoff       string `yaml:"backoff"`
	Resolver      string `yaml:"resolver"`
	ProbeMetadata *bool  `yaml:"probeMetadata"`
	ProbePublic   *bool  `yaml:"probePublic"`
}
