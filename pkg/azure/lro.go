package azure

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// wait polls a long-running operation for at most bound. done reports
// whether it finished (res and err then hold its outcome); when it did not,
// token is the poller's resume token and the caller reports the write as in
// progress: re-reading the resource later is always enough to converge.
//
// PollUntilDone is not used: it insists on a frequency of at least one
// second outside tests and has no notion of a bound other than the context,
// whose expiry it reports as a failure.
func wait[T any](ctx context.Context, p *runtime.Poller[T], bound, every time.Duration) (res T, done bool, token string, err error) {
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for !p.Done() {
		t := time.NewTimer(every)
		select {
		case <-wctx.Done():
			t.Stop()
			return pending(p)
		case <-t.C:
		}
		if _, err := p.Poll(wctx); err != nil {
			if wctx.Err() != nil {
				return pending(p)
			}
			return res, true, "", err
		}
	}
	res, err = p.Result(ctx)
	return res, true, "", err
}

func pending[T any](p *runtime.Poller[T]) (res T, done bool, token string, err error) {
	token, err = p.ResumeToken()
	return res, false, token, err
}
