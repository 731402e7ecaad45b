//go:build unix

package main

import "syscall"

// descriptorLimit is the process's soft limit of open files (0 when
// unknown). Go raises the soft limit to the hard one at start.
func descriptorLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return uint64(r.Cur)
}
