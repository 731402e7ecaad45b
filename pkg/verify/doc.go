// Package verify proves that a private endpoint to a FHIR server works, and
// says precisely what is wrong when it does not. It automates the checks at
// the end of the private link guide (nslookup from a VM in the VNet, then
// GET /metadata) and adds the ARM facts behind them.
//
// A Verifier runs independent checks concurrently, each bounded in time:
//
//   - ARM (over core.Reader): the connection is Approved; the endpoint has a
//     DNS zone group for each managed zone; the zone holds an A record for each
//     endpoint FQDN with the endpoint's private IP; every VNet that should reach
//     the target has a Completed link to the zone.
//   - DNS (github.com/miekg/dns against a configurable resolver): the public
//     FQDN resolves through the privatelink alias to the private IP. A public
//     address reached through *.trafficmanager.net / *.cloudapp.azure.com
//     aliases is diagnosed as a missing VNet link.
//   - HTTP: GET https://FQDN/metadata returns a FHIR CapabilityStatement; an
//     optional public probe expects 403 (public access refused).
//
// Each check yields a CheckResult with a status, the evidence observed and a
// diagnosis in the guide's terms. A Report gathers them, renders JSON and
// text, and decides whether a rerun may still change the outcome (NextAction):
// checks that fail for reasons that can still change (DNS propagation, a link
// in progress) are Retryable. Reports are kept by a ReportStore (NewDirStore).
package verify
