// Command measurestart measures how fast the handler binary comes up in
// serve mode, as the Azure Functions host starts it: the time from exec to
// the first answer on "/" (the host's readiness probe), and the resident
// memory then and a moment later (the production wiring is built in the
// background after the listener is up). It prints the binary's size and the
// median, minimum and maximum of N runs. scripts/measure-start.sh runs it on
// the binary of `make build`.
//
// The handler gets what serve mode needs and nothing that reaches Azure: a
// port, the policy file, and a Service Bus namespace that is never
// contacted (the SDK client connects on the first send).
package main
