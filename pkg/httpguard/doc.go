// Package httpguard holds the guards of the HTTP edge of `handler local`
// and the Functions-mode server, against clients that flood rather than
// forge:
//
//   - Client: who a request or connection counts as: an IPv4 address, or
//     the /64 of an IPv6 address (one subscriber's usual allocation).
//   - Limiter: a token bucket per client with bounded memory (the API's
//     request rate, failed key attempts).
//   - Keys: the key check of the webhook and the API: constant-time
//     comparison, failed attempts throttled per client (429 without even
//     comparing once a client used up its budget), the connection closed
//     after a refusal, and clients that presented the key remembered (Known).
//   - ConnGuard: a listener and http.Server.ConnState hook that bound the
//     open connections in total (derived from the descriptor limit) and per
//     client, close idle keep-alive connections first when the server is
//     full, and keep a headroom of connections that only clients known to
//     hold the key may use.
//
// golang.org/x/net/netutil.LimitListener bounds the total only, and by
// blocking Accept: a flood then holds every slot until its timeouts and a
// keyed client waits in the kernel's backlog. ConnGuard accepts and closes
// instead, per client, so one address cannot take what another needs.
package httpguard
