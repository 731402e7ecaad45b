package sandboxnet

import "strings"

// PublicGate tells the FHIR server's public listener what a client from
// the internet gets for a host name.
type PublicGate interface {
	// PublicAccess returns the target (workspace or legacy service) whose
	// publicNetworkAccess governs host (lower case, no port) and whether a
	// public client is refused now; ok is false when no target of the
	// sandbox serves host.
	PublicAccess(host string) (targetID string, refused, ok bool)
}

var _ PublicGate = (*SandboxView)(nil)

// PublicAccess answers from the sandbox: the host's target and whether its
// public listener refuses public clients now, which follows the target's
// publicNetworkAccess after the sandbox's propagation delay
// (sandbox.Sandbox.PublicAccess).
func (v *SandboxView) PublicAccess(host string) (string, bool, bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	id, ok := v.read().targets[host]
	if !ok {
		return "", false, false
	}
	pa, ok := v.sb.PublicAccess(id)
	if !ok {
		return "", false, false
	}
	return id, pa.Refused(), true
}

// publicName is the name the public listener's 403 names: the first label
// of a host name, as the guide's "Access to xxx was denied".
func publicName(host string) string {
	if i := strings.IndexByte(host, '.'); i > 0 && !isIP(host) {
		return host[:i]
	}
	return host
}
