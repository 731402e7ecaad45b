package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/plautopilot/autopilot/pkg/core"
)

// The CEL variables are Go structs exposed with ext.NativeTypes: the checker
// knows every field, so a misspelt field (endpoint.subscriptionID) is a load
// error rather than a rule that silently never matches. Subscription IDs are
// lower-cased; every other value is passed as read from ARM.

type endpointVars struct {
	ID                  string            `cel:"id"`
	SubscriptionID      string            `cel:"subscriptionId"`
	ResourceGroup       string            `cel:"resourceGroup"`
	Name                string            `cel:"name"`
	Location            string            `cel:"location"`
	Tags                map[string]string `cel:"tags"`
	VNetID              string            `cel:"vnetId"`
	VNetAddressPrefixes []string          `cel:"vnetAddressPrefixes"`
	VNetTags            map[string]string `cel:"vnetTags"`
	SubnetID            string            `cel:"subnetId"`
	RequestMessage      string            `cel:"requestMessage"`
	GroupIDs            []string          `cel:"groupIds"`
	Readable            bool              `cel:"readable"`
}

type connectionVars struct {
	ID          string `cel:"id"`
	Name        string `cel:"name"`
	Status      string `cel:"status"`
	Description string `cel:"description"`
}

type targetVars struct {
	ID             string            `cel:"id"`
	Type           string            `cel:"type"`
	Kind           string            `cel:"kind"`
	Name           string            `cel:"name"`
	SubscriptionID string            `cel:"subscriptionId"`
	ResourceGroup  string            `cel:"resourceGroup"`
	Location       string            `cel:"location"`
	Tags           map[string]string `cel:"tags"`
}

type requesterVars struct {
	ObjectID string `cel:"objectId"`
	AppID    string `cel:"appId"`
	TenantID string `cel:"tenantId"`
	UPN      string `cel:"upn"`
	// DisplayName is the name / unique_name claim: display only.
	DisplayName string `cel:"displayName"`
	Known       bool   `cel:"known"`
	// Source is core.PrincipalSource.Kind: which event named the requester.
	Source string `cel:"source"`
}

type vnetVars struct {
	ID                  string            `cel:"id"`
	Name                string            `cel:"name"`
	SubscriptionID      string            `cel:"subscriptionId"`
	ResourceGroup       string            `cel:"resourceGroup"`
	Location            string            `cel:"location"`
	Tags                map[string]string `cel:"tags"`
	AddressPrefixes     []string          `cel:"addressPrefixes"`
	PeeredVNetIDs       []string          `cel:"peeredVnetIds"`
	PeeredVNetNames     []string          `cel:"peeredVnetNames"`
	HasGovernedEndpoint bool              `cel:"hasGovernedEndpoint"`
	PeeredWithGoverned  bool              `cel:"peeredWithGovernedEndpointVnet"`
}

// connActivation resolves the connection-rule variables without building a
// map per evaluation.
type connActivation struct {
	endpoint   *endpointVars
	connection *connectionVars
	target     *targetVars
	requester  *requesterVars
}

func (a *connActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "endpoint":
		return a.endpoint, true
	case "connection":
		return a.connection, true
	case "target":
		return a.target, true
	case "requester":
		return a.requester, true
	}
	return nil, false
}

func (a *connActivation) Parent() interpreter.Activation { return nil }

type linkActivation struct{ vnet *vnetVars }

func (a *linkActivation) ResolveName(name string) (any, bool) {
	if name == "vnet" {
		return a.vnet, true
	}
	return nil, false
}

func (a *linkActivation) Parent() interpreter.Activation { return nil }

// celEnvs holds the two compile environments. They are built once per
// process: building an environment is far costlier than compiling a rule.
type celEnvs struct {
	conn *cel.Env
	link *cel.Env
}

func newEnvs() (*celEnvs, error) {
	common := []cel.EnvOption{
		ext.NativeTypes(
			cel.NativeTypeFor[endpointVars](cel.NativeTypeAlias("Endpoint")),
			cel.NativeTypeFor[connectionVars](cel.NativeTypeAlias("Connection")),
			cel.NativeTypeFor[targetVars](cel.NativeTypeAlias("Target")),
			cel.NativeTypeFor[requesterVars](cel.NativeTypeAlias("Requester")),
			cel.NativeTypeFor[vnetVars](cel.NativeTypeAlias("VNet")),
			ext.ParseStructTags(true),
		),
		ext.Strings(),
		cel.Function("cidrContains",
			cel.Overload("cidrContains_string_string",
				[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(cidrContainsBinding))),
		cel.Function("cidrsWithin",
			cel.Overload("cidrsWithin_list_list",
				[]*cel.Type{cel.ListType(cel.StringType), cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(cidrsWithinBinding))),
		cel.Function("idEquals",
			cel.Overload("idEquals_string_string",
				[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					return types.Bool(core.SameID(string(a.(types.String)), string(b.(types.String))))
				}))),
		cel.Function("subscriptionOf",
			cel.Overload("subscriptionOf_string",
				[]*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(a ref.Val) ref.Val {
					return types.String(strings.ToLower(core.SubscriptionOf(string(a.(types.String)))))
				}))),
	}
	conn, err := cel.NewEnv(append(common,
		cel.Variable("endpoint", cel.ObjectType("Endpoint")),
		cel.Variable("connection", cel.ObjectType("Connection")),
		cel.Variable("target", cel.ObjectType("Target")),
		cel.Variable("requester", cel.ObjectType("Requester")),
	)...)
	if err != nil {
		return nil, fmt.Errorf("build connection rule environment: %w", err)
	}
	link, err := cel.NewEnv(append(common,
		cel.Variable("vnet", cel.ObjectType("VNet")),
	)...)
	if err != nil {
		return nil, fmt.Errorf("build link rule environment: %w", err)
	}
	return &celEnvs{conn: conn, link: link}, nil
}

// parseCIDR accepts a prefix ("10.1.0.0/16") or a bare address, which is
// taken as a host prefix.
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// prefixWithin reports whether child lies entirely inside parent.
func prefixWithin(parent, child netip.Prefix) bool {
	if parent.Addr().Is4() != child.Addr().Is4() {
		return false
	}
	return parent.Bits() <= child.Bits() && parent.Contains(child.Addr())
}

func cidrContainsBinding(a, b ref.Val) ref.Val {
	parent, err := parseCIDR(string(a.(types.String)))
	if err != nil {
		return types.NewErr("cidrContains: parent %q is not a CIDR prefix", string(a.(types.String)))
	}
	child, err := parseCIDR(string(b.(types.String)))
	if err != nil {
		return types.NewErr("cidrContains: child %q is not a CIDR prefix or address", string(b.(types.String)))
	}
	return types.Bool(prefixWithin(parent, child))
}

// cidrsWithinBinding: every prefix of the first list lies inside one of the
// allowed prefixes. An empty first list is never "within": an endpoint whose
// VNet could not be read must not pass an address-space check vacuously.
func cidrsWithinBinding(a, b ref.Val) ref.Val {
	list, ok := a.(traits.Lister)
	if !ok {
		return types.NewErr("cidrsWithin: first argument is not a list")
	}
	allowedList, ok := b.(traits.Lister)
	if !ok {
		return types.NewErr("cidrsWithin: second argument is not a list")
	}
	n := int(list.Size().(types.Int))
	if n == 0 {
		return types.False
	}
	m := int(allowedList.Size().(types.Int))
	var buf [8]netip.Prefix
	allowed := buf[:0]
	for i := 0; i < m; i++ {
		s, ok := allowedList.Get(types.Int(i)).(types.String)
		if !ok {
			return types.NewErr("cidrsWithin: allowed list holds a non-string")
		}
		p, err := parseCIDR(string(s))
		if err != nil {
			return types.NewErr("cidrsWithin: allowed %q is not a CIDR prefix", string(s))
		}
		allowed = append(allowed, p)
	}
	for i := 0; i < n; i++ {
		s, ok := list.Get(types.Int(i)).(types.String)
		if !ok {
			return types.NewErr("cidrsWithin: list holds a non-string")
		}
		p, err := parseCIDR(string(s))
		if err != nil {
			return types.NewErr("cidrsWithin: %q is not a CIDR prefix", string(s))
		}
		inside := false
		for _, q := range allowed {
			if prefixWithin(q, p) {
				inside = true
				break
			}
		}
		if !inside {
			return types.False
		}
	}
	return types.True
}
