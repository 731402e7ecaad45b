package sandboxnet

import (
	"fmt"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// InternetVNetID names "outside every VNet" for the DNS server: no zone is
// linked to it, so it gets the public answers the public probe needs.
const InternetVNetID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/internet/providers/Microsoft.Network/virtualNetworks/internet"

// Network is the sandbox's network for verification: a DNS server answering
// per VNet from the sandbox state and the FHIR server's two listeners.
type Network struct {
	DNS  *DNSServer
	FHIR *FHIRServer
}

// NewNetwork starts the DNS and FHIR servers over sb. Close stops them.
func NewNetwork(sb *sandbox.Sandbox) (*Network, error) {
	view := NewSandboxView(sb)
	f, err := NewFHIRServer(WithPublicGate(view))
	if err != nil {
		return nil, err
	}
	n := &Network{DNS: NewDNSServer(view), FHIR: f}
	if _, err := n.DNS.Listen(InternetVNetID); err != nil {
		n.Close()
		return nil, fmt.Errorf("sandbox network: %w", err)
	}
	return n, nil
}

// Verifier returns a verifier running the production checks against the
// sandbox: ARM checks through reader (the SDK adapters over the sandbox),
// DNS and /metadata once per VNet through that VNet's resolver, the public
// probe from outside every VNet.
func (n *Network) Verifier(reader core.Reader) *verify.Verifier {
	return &verify.Verifier{
		Reader:         reader,
		ResolverFor:    n.DNS.AddrFor,
		PublicResolver: n.DNS.AddrFor(InternetVNetID),
		DialContext:    n.FHIR.DialContext,
		RootCAs:        n.FHIR.CertPool(),
	}
}

// Close stops both servers.
func (n *Network) Close() {
	_ = n.DNS.Close()
	n.FHIR.Close()
}
