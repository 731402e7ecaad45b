//go:build !unix

package main

// descriptorLimit is unknown here: connLimitsFor assumes a small one.
func descriptorLimit() uint64 { return 0 }
