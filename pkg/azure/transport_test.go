package azure

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// scripted is an HTTP transport for the real SDK clients that answers from
// a function and counts requests: the wire is replaced, nothing else.
type scripted struct {
	mu       sync.Mutex
	requests []string
	answer   func(n int, req *http.Request) *http.Response
}

func (s *scripted) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, req.Method+" "+req.URL.Path)
	s.mu.Unlock()
	resp := s.answer(n, req)
	resp.Request = req
	return resp, nil
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func respond(status int, body string, header ...string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func armError(status int, code string, header ...string) *http.Response {
	return respond(status, `{"error":{"code":"`+code+`","message":"injected"}}`, header...)
}

// newScripted returns a Client whose SDK clients talk to answer, with the
// production retry settings except a tiny base delay (so 5xx retries do
// not sleep for seconds).
func newScripted(t *testing.T, cfg Config, answer func(n int, req *http.Request) *http.Response) (*Client, *scripted) {
	t.Helper()
	tr := &scripted{answer: answer}
	opts := DefaultClientOptions()
	opts.Transport = tr
	opts.Retry.RetryDelay = time.Millisecond
	c, err := New(&azfake.TokenCredential{}, opts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

var _ policy.Transporter = (*scripted)(nil)
