// Package eventgrid publishes outcome events to an Event Grid custom topic in
// the CloudEvents 1.0 schema through the SDK's azeventgrid client. It is the
// only outcome sink that needs an Azure SDK, so it lives apart from package
// outcome: the decision core (reconcile, verify) depends on outcome without
// linking the SDK. When publishing fails the events go to a fallback sink (log
// and file) so that no decision is lost.
package eventgrid
