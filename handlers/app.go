package main

import "github.com/rs/zerolog"

// app holds what the functions share: the logger now; the policy, the ARM
// adapters, the job queues and the outcome sink as they are wired in.
// Everything in it is built in main (cmd_serve.go), never from a function.
type app struct {
	log zerolog.Logger
}

// newApp builds the app. It must stay cheap: the Functions host waits for
// the handler to answer on "/" before it sends invocations, so anything slow
// (credentials, clients) is created lazily.
func newApp(log zerolog.Logger) *app {
	return &app{log: log}
}
