// Package sandboxnet is the network half of the sandbox: a DNS server that
// answers as Azure's resolver does inside each VNet, and a FHIR server with a
// private and a public listener, so that verification in sandbox mode runs
// the production checks (pkg/verify) against real sockets on loopback.
//
// DNSServer answers from a View over the sandbox state: through the
// privatelink alias to the endpoint's private IP when the VNet is linked to
// the zone holding the record, otherwise the public answer with Traffic
// Manager and cloudapp aliases, exactly as the private link guide's two
// nslookup outputs show. The public address is 203.0.113.10 (TEST-NET-3,
// reserved for documentation): it looks public and is never contacted.
//
// FHIRServer serves GET /metadata (a FHIR R4 CapabilityStatement,
// anonymous as in FHIR servers) on its private listener. Its public
// listener answers per target, as Azure does: while the target enforces
// publicNetworkAccess Enabled, the same CapabilityStatement; once Disabled
// is enforced, 403 "Access to NAME was denied". A change of the setting is
// enforced only after the sandbox's propagation delay (scenario
// publicAccessDelay, sandbox.WithPublicAccessDelay; default 5 minutes, the
// guide's "up to 5 minutes"), measured on the sandbox clock, so simulated
// time passes it at once. NewNetwork wires that PublicGate (the SandboxView);
// a FHIRServer without one refuses every public request.
// Its DialContext plays the network: private addresses reach the private
// listener, anything else the public one. Wire it into a verifier:
//
//	v := &verify.Verifier{
//		Reader:      sandboxReader,
//		ResolverFor: dnsServer.AddrFor,
//		DialContext: fhirServer.DialContext,
//		RootCAs:     fhirServer.CertPool(),
//	}
//	v.PublicResolver = dnsServer.AddrFor(sandboxnet.InternetVNetID)
//	subject.PublicURL = "https://" + fqdn + "/metadata" // the host names the target
package sandboxnet
