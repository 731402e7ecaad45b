package httpguard

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// ConnLimits bound the connections a server holds open.
type ConnLimits struct {
	// Total is the most connections open at once; 0 means no bound.
	Total int
	// PerClient is the most one client (Client: an IPv4 address or an IPv6
	// /64) may hold open; 0 means no bound (the Functions host is the
	// only client of its handler).
	PerClient int
	// Headroom is the part of Total only clients in Known may use: when
	// Total-Headroom connections are open, others are refused, so clients
	// that presented the key still get in during a flood of anonymous
	// connections from many addresses.
	Headroom int
	// Known are the clients that presented the key (Keys).
	Known *Known
	// OnRefuse, when set, is told about refused connections, at most once
	// per refuseReportEvery: how many were refused since the last report
	// and why the last one was.
	OnRefuse func(refused int, client, why string)
}

// refuseReportEvery spaces OnRefuse calls: a flood must not flood the log.
const refuseReportEvery = 10 * time.Second

// ConnStats counts what a ConnGuard did.
type ConnStats struct {
	Open    int `json:"open"`
	Refused int `json:"refused"`
	Evicted int `json:"evicted"`
}

// ConnGuard enforces ConnLimits: wrap the listener with Listener and set
// the server's ConnState to ConnState.
//
// A connection beyond a limit is accepted and closed at once (its
// descriptor is held for microseconds), so the kernel's backlog keeps
// moving and other clients' connections are reached. When the server is at
// Total-Headroom, idle keep-alive connections are closed first, oldest
// first (a client reopens one when it needs it), before anyone is refused.
type ConnGuard struct {
	lim ConnLimits
	now func() time.Time

	mu        sync.Mutex
	open      int
	perClient map[string]int
	idle      map[*guardedConn]time.Time
	stats     ConnStats
	unrep     int // refusals not reported yet
	lastRep   time.Time
}

// NewConnGuard returns a guard enforcing lim.
func NewConnGuard(lim ConnLimits) *ConnGuard {
	return &ConnGuard{lim: lim, now: time.Now, perClient: map[string]int{}, idle: map[*guardedConn]time.Time{}}
}

// Limits returns the limits the guard enforces.
func (g *ConnGuard) Limits() ConnLimits { return g.lim }

// Stats returns the guard's counters.
func (g *ConnGuard) Stats() ConnStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats
	s.Open = g.open
	return s
}

// Listener wraps ln: Accept returns only connections within the limits.
func (g *ConnGuard) Listener(ln net.Listener) net.Listener {
	return &guardedListener{Listener: ln, g: g}
}

// ConnState is the http.Server hook that tells the guard which connections
// are idle between requests.
func (g *ConnGuard) ConnState(c net.Conn, st http.ConnState) {
	gc, ok := c.(*guardedConn)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch st {
	case http.StateIdle:
		if !gc.released {
			g.idle[gc] = g.now()
		}
	default:
		delete(g.idle, gc)
	}
}

type guardedListener struct {
	net.Listener
	g *ConnGuard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := Client(c.RemoteAddr().String())
		gc, why := l.g.admit(c, client)
		if gc != nil {
			return gc, nil
		}
		c.Close()
		l.g.refused(client, why)
	}
}

// admit counts c in when the limits allow it; otherwise it says why not.
func (g *ConnGuard) admit(c net.Conn, client string) (*guardedConn, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lim.PerClient > 0 && g.perClient[client] >= g.lim.PerClient {
		return nil, "the client holds its limit of connections"
	}
	if g.lim.Total > 0 {
		anon := max(g.lim.Total-g.lim.Headroom, 0)
		if g.open >= anon {
			g.evictIdleLocked(g.open - anon + 1)
		}
		switch {
		case g.open >= g.lim.Total:
			return nil, "the server holds its limit of connections"
		case g.open >= anon && !g.lim.Known.Has(client):
			return nil, "the server is full; its headroom is kept for clients that presented the key"
		}
	}
	g.open++
	g.perClient[client]++
	return &guardedConn{Conn: c, g: g, client: client}, ""
}

// evictIdleLocked closes up to n idle connections, oldest first.
func (g *ConnGuard) evictIdleLocked(n int) {
	for ; n > 0 && len(g.idle) > 0; n-- {
		var oldest *guardedConn
		var at time.Time
		for c, t := range g.idle {
			if oldest == nil || t.Before(at) {
				oldest, at = c, t
			}
		}
		delete(g.idle, oldest)
		g.releaseLocked(oldest)
		g.stats.Evicted++
		go oldest.Conn.Close() // the server's reader sees it closed and lets go
	}
}

func (g *ConnGuard) refused(client, why string) {
	g.mu.Lock()
	g.stats.Refused++
	g.unrep++
	report := g.lim.OnRefuse != nil && g.now().Sub(g.lastRep) >= refuseReportEvery
	n := g.unrep
	if report {
		g.unrep, g.lastRep = 0, g.now()
	}
	g.mu.Unlock()
	if report {
		g.lim.OnRefuse(n, client, why)
	}
}

// releaseLocked counts a connection out, once.
func (g *ConnGuard) releaseLocked(c *guardedConn) {
	if c.released {
		return
	}
	c.released = true
	g.open--
	if g.perClient[c.client]--; g.perClient[c.client] <= 0 {
		delete(g.perClient, c.client)
	}
	delete(g.idle, c)
}

// guardedConn is an admitted connection; closing it counts it out.
type guardedConn struct {
	net.Conn
	g        *ConnGuard
	client   string
	released bool // under g.mu
}

func (c *guardedConn) Close() error {
	c.g.mu.Lock()
	c.g.releaseLocked(c)
	c.g.mu.Unlock()
	return c.Conn.Close()
}
