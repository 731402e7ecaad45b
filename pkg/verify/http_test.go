package verify

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fhirTestServer is a local TLS server: /metadata serves the real R4
// CapabilityStatement from testdata, /forbidden the FHIR server's 403,
// /html a non-FHIR 200, /slow never answers, /observation a FHIR resource
// that is not a CapabilityStatement.
func fhirTestServer(t *testing.T) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	capStmt, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fhir", "capabilitystatement-r4.json"))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metadata", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		_, _ = w.Write(capStmt)
	})
	mux.HandleFunc("GET /forbidden", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","id":"x","issue":[{"severity":"error","code":"forbidden","diagnostics":"Access to fhirserverxxx was denied."}]}`))
	})
	mux.HandleFunc("GET /html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Welcome to the corporate proxy</body></html>"))
	})
	mux.HandleFunc("GET /observation", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write([]byte(`{"resourceType":"Observation","status":"final"}`))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func TestMetadataCheck(t *testing.T) {
	srv, pool := fhirTestServer(t)
	tests := []struct {
		name          string
		path          string
		untrusted     bool
		wantStatus    Status
		wantRetryable bool
		wantEvidence  string
		wantDiagnosis []string
	}{
		{
			name: "real CapabilityStatement passes", path: "/metadata", wantStatus: StatusPass,
			wantEvidence: "200 OK, application/fhir+json; charset=utf-8, resourceType CapabilityStatement, fhirVersion 4.0.1, software Microsoft FHIR Server for Azure 4.0.1",
		},
		{
			name: "403 is access over the public path", path: "/forbidden", wantStatus: StatusFail, wantRetryable: true,
			wantEvidence:  `403 Forbidden, application/fhir+json; charset=utf-8, resourceType OperationOutcome, issue "Access to fhirserverxxx was denied."`,
			wantDiagnosis: []string{"access denied: the request came over the public path (private endpoint not used or DNS not private)"},
		},
		{
			name: "non-FHIR 200 fails", path: "/html", wantStatus: StatusFail,
			wantEvidence:  "200 OK, text/html, body not JSON",
			wantDiagnosis: []string{"not a FHIR CapabilityStatement"},
		},
		{
			name: "FHIR 200 that is not a CapabilityStatement fails", path: "/observation", wantStatus: StatusFail,
			wantEvidence:  "resourceType Observation",
			wantDiagnosis: []string{"not a FHIR CapabilityStatement"},
		},
		{
			name: "no answer in time is retried", path: "/slow", wantStatus: StatusRetry, wantRetryable: true,
			wantDiagnosis: []string{"no answer in time"},
		},
		{
			name: "untrusted certificate fails with the CA hint", path: "/metadata", untrusted: true, wantStatus: StatusFail,
			wantDiagnosis: []string{"not trusted", "--ca-file"},
		},
		{
			name: "404 names the expected URL shapes", path: "/nothing-here", wantStatus: StatusFail,
			wantEvidence:  "404 Not Found",
			wantDiagnosis: []string{"unexpected 404", "/metadata"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{RootCAs: pool, Timeout: 300 * time.Millisecond}
			if tc.untrusted {
				v.RootCAs = x509.NewCertPool()
			}
			rep := v.Run(context.Background(), Subject{MetadataURL: srv.URL + tc.path})
			if len(rep.Checks) != 1 {
				t.Fatalf("got %d checks, want only the HTTP check: %+v", len(rep.Checks), rep.Checks)
			}
			assertCheck(t, rep.Checks[0], tc.wantStatus, tc.wantRetryable, tc.wantEvidence, tc.wantDiagnosis)
		})
	}
}

func TestPublicProbe(t *testing.T) {
	srv, pool := fhirTestServer(t)
	tests := []struct {
		name          string
		path          string
		wantStatus    Status
		wantRetryable bool
		wantDiagnosis []string
	}{
		{name: "403 from the public side passes: public access refused", path: "/forbidden", wantStatus: StatusPass},
		{name: "CapabilityStatement from the public side: public access still on", path: "/metadata",
			wantStatus: StatusFail, wantRetryable: true, wantDiagnosis: []string{"public access is still allowed", "5 minutes"}},
		{name: "other answer from the public side", path: "/html", wantStatus: StatusFail, wantDiagnosis: []string{"answered 200, not 403"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{RootCAs: pool, Timeout: 2 * time.Second}
			rep := v.Run(context.Background(), Subject{PublicURL: srv.URL + tc.path})
			got := find(t, rep, "public GET "+srv.URL+tc.path+" refused")
			assertCheck(t, got, tc.wantStatus, tc.wantRetryable, "GET "+srv.URL+tc.path, tc.wantDiagnosis)
		})
	}
}

func TestMetadataCheckNameDidNotResolve(t *testing.T) {
	v := &Verifier{
		Timeout: 2 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.DNSError{Err: "no such host", Name: "nosuch.azurehealthcareapis.com", IsNotFound: true}
		},
	}
	rep := v.Run(context.Background(), Subject{MetadataURL: "https://nosuch.azurehealthcareapis.com/metadata"})
	if len(rep.Checks) != 1 {
		t.Fatalf("got %d checks, want only the HTTP check: %+v", len(rep.Checks), rep.Checks)
	}
	// Not "refused or reset": nothing was contacted, the name did not resolve.
	assertCheck(t, rep.Checks[0], StatusFail, false, "no such host", []string{"did not resolve", "nosuch.azurehealthcareapis.com", "no request was sent"})
}
