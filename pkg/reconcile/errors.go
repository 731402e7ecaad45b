package reconcile

import (
	"errors"

	"github.com/plautopilot/autopilot/pkg/core"
)

func asCore(err error, target **core.Error) bool { return errors.As(err, target) }
