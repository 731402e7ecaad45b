// Package funchost speaks the Azure Functions custom-handler protocol: it
// decodes the invocation envelope the Functions host POSTs to the handler
// ({"Data": {...}, "Metadata": {...}}) and encodes the answer
// ({"Outputs": {...}, "Logs": [...], "ReturnValue": ...}).
//
// The host serialises .NET values into the envelope in ways a naive decoder
// trips on: string values are JSON-encoded once more (a message id), and a
// string trigger value twice (a Service Bus body; an Event Grid event, which
// arrives as its indented text); numbers arrive as strings ("DeliveryCount":
// "1"); .NET DateTime values lose their zone ("2023-10-12T20:13:49" means
// UTC); HTTP headers arrive as arrays. The typed decoders here
// (EventGridEvent, ServiceBusMessage, Timer, HTTPRequest, MetaString, ...)
// accept every shape the host is known to send and fail with a *DecodeError
// naming the function and the field when a value cannot be understood.
//
// The package knows nothing of Azure SDKs or of what the functions do; the
// HTTP server that routes invocations lives in the handlers command.
package funchost
