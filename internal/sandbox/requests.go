package sandbox

// Requests counts the HTTP requests the sandbox served, by method: what
// ARM's request limits would see. LRO polls and retried calls are included,
// so these are not the number of ARM calls the autopilot decided to make
// (the reconciler's own reads and writes; see docs/vocabulary.md).
//
// The JSON outputs of replay, the demo and the load test carry it as
// `sandboxRequests`, next to the older `armReads`/`armWrites` fields that
// count the same requests.
type Requests struct {
	Reads   int `json:"reads"`   // GET, LRO polls and lists included
	Writes  int `json:"writes"`  // PUT, PATCH, POST
	Deletes int `json:"deletes"` // DELETE
}

// Requests returns the request counts of s.
func (s Stats) Requests() Requests {
	return Requests{Reads: s.Reads, Writes: s.Writes, Deletes: s.Deletes}
}

// Since returns the requests served between before and r.
func (r Requests) Since(before Requests) Requests {
	return Requests{Reads: r.Reads - before.Reads, Writes: r.Writes - before.Writes, Deletes: r.Deletes - before.Deletes}
}
