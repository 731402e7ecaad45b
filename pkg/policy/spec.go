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
	// disableAfterVerification, for every target this selection governs.
	PublicNetworkAccess string `yaml:"publicNetworkAccess"`
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
