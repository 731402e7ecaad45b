package reconcile

import (
	"errors"

	"github.com/plautopilot/autopilot/pkg/core"
)

func asCore(err error, target **core.Error) bool { return errors.As(err, target) }

// Codes of the adapter's refusals (pkg/azure: CodeInvalidTransition,
// CodeNotOwned) that mean another writer changed the resource since the job
// read it, so that the change the job planned is no longer the autopilot's
// to make: a connection someone else approved or rejected meanwhile (the
// adapter never overturns a decision), a link someone else took over.
// Spelled here because the core does not import the adapter.
const (
	codeInvalidTransition = "InvalidTransition"
	codeNotOwned          = "NotOwned"
)

// superseded reports whether a change failed because someone else changed
// the resource since the job read it. Such a change is skipped, not
// failed: retrying cannot make it succeed and there is nothing wrong with
// the job, so it neither fails the job nor ends in the dead-letter queue.
// The job's next reading (or the sweep) plans from the new state.
func superseded(err error) bool {
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.Fatal {
		return false
	}
	return ce.Code == codeInvalidTransition || ce.Code == codeNotOwned
}
