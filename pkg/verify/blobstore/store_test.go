package blobstore

import (
	"context"
	"encoding/xml"
	"fmt"
	"github.com/plautopilot/autopilot/pkg/verify"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/google/go-cmp/cmp"
)

// fakeBlobService is just enough of the Blob REST API for Store, over
// one container: Put Blob, List Blobs (flat, with prefix and paging) and
// Get Blob. Requests without the fake credential's bearer token, and
// requests on names in deny, get 403 as Azure answers a missing role.
type fakeBlobService struct {
	container string
	pageSize  int

	mu    sync.Mutex
	blobs map[string]fakeBlob
	deny  map[string]bool // "PUT name", "GET name", "LIST"
}

type fakeBlob struct {
	body        []byte
	contentType string
}

func newFakeBlobService(t *testing.T) (*fakeBlobService, *httptest.Server) {
	t.Helper()
	f := &fakeBlobService{container: "verification-reports", pageSize: 2, blobs: map[string]fakeBlob{}, deny: map[string]bool{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeBlobService) put(name string, body []byte, contentType string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobs[name] = fakeBlob{body: body, contentType: contentType}
}

func (f *fakeBlobService) denied(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny[op] = true
}

func (f *fakeBlobService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/")
	cont, name, _ := strings.Cut(path, "/")
	if cont != f.container {
		storageError(w, http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
		return
	}
	if r.Header.Get("Authorization") != "Bearer fake_token" {
		storageError(w, http.StatusForbidden, "AuthenticationFailed", "no bearer token")
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && name == "" && q.Get("restype") == "container" && q.Get("comp") == "list":
		if f.deny["LIST"] {
			storageError(w, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
			return
		}
		f.list(w, r, q.Get("prefix"), q.Get("marker"))
	case r.Method == http.MethodPut && name != "":
		if f.deny["PUT "+name] {
			storageError(w, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
			return
		}
		if got := r.Header.Get("x-ms-blob-type"); got != "BlockBlob" {
			storageError(w, http.StatusBadRequest, "InvalidHeaderValue", "x-ms-blob-type "+got)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			storageError(w, http.StatusBadRequest, "InvalidInput", err.Error())
			return
		}
		f.blobs[name] = fakeBlob{body: body, contentType: r.Header.Get("x-ms-blob-content-type")}
		w.Header().Set("ETag", `"0x1"`)
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet && name != "":
		if f.deny["GET "+name] {
			storageError(w, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
			return
		}
		b, ok := f.blobs[name]
		if !ok {
			storageError(w, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
			return
		}
		w.Header().Set("Content-Type", b.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
		w.Header().Set("x-ms-blob-type", "BlockBlob")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.body)
	default:
		storageError(w, http.StatusBadRequest, "UnsupportedHttpVerb", r.Method+" "+r.URL.String())
	}
}

type enumerationResults struct {
	XMLName         xml.Name   `xml:"EnumerationResults"`
	ServiceEndpoint string     `xml:"ServiceEndpoint,attr"`
	ContainerName   string     `xml:"ContainerName,attr"`
	Prefix          string     `xml:"Prefix"`
	Marker          string     `xml:"Marker,omitempty"`
	MaxResults      int        `xml:"MaxResults"`
	Blobs           []listBlob `xml:"Blobs>Blob"`
	NextMarker      string     `xml:"NextMarker"`
}

type listBlob struct {
	Name       string `xml:"Name"`
	Properties struct {
		ContentLength int    `xml:"Content-Length"`
		ContentType   string `xml:"Content-Type"`
		BlobType      string `xml:"BlobType"`
	} `xml:"Properties"`
}

// list answers List Blobs in name order, pageSize names per page; the
// marker is the index of the next name.
func (f *fakeBlobService) list(w http.ResponseWriter, r *http.Request, prefix, marker string) {
	var names []string
	for n := range f.blobs {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	start := 0
	if marker != "" {
		start, _ = strconv.Atoi(marker)
	}
	res := enumerationResults{ServiceEndpoint: "https://" + r.Host + "/", ContainerName: f.container, Prefix: prefix, Marker: marker, MaxResults: f.pageSize}
	end := min(start+f.pageSize, len(names))
	for _, n := range names[start:end] {
		var b listBlob
		b.Name = n
		b.Properties.ContentLength = len(f.blobs[n].body)
		b.Properties.ContentType = f.blobs[n].contentType
		b.Properties.BlobType = "BlockBlob"
		res.Blobs = append(res.Blobs, b)
	}
	if end < len(names) {
		res.NextMarker = strconv.Itoa(end)
	}
	out, err := xml.Marshal(res)
	if err != nil {
		storageError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(out)
}

func storageError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "%s<Error><Code>%s</Code><Message>%s</Message></Error>", xml.Header, code, msg)
}

func newTestStore(t *testing.T) (*Store, *fakeBlobService, string) {
	t.Helper()
	f, srv := newFakeBlobService(t)
	u := srv.URL + "/" + f.container
	st, err := New(u, &fake.TokenCredential{}, &container.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, f, u
}

func TestBlobStoreRoundTrip(t *testing.T) {
	st, f, _ := newTestStore(t)
	ctx := context.Background()
	older := sampleReport()
	older.Attempt = 1
	newer := sampleReport()
	newer.StartedAt = older.StartedAt.Add(time.Minute)
	newer.Attempt = 2
	other := sampleReport()
	other.Subject = verify.Subject{FQDNs: []string{"other.azurehealthcareapis.com"}}
	other.StartedAt = older.StartedAt.Add(30 * time.Second)
	other.Attempt = 1

	// Saved out of time order: the listing must still come back newest first.
	for _, r := range []verify.Report{newer, other, older} {
		name, err := st.Save(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		want := verify.SubjectKey(r.Subject) + "/" + r.StartedAt.UTC().Format(blobTimeLayout) + fmt.Sprintf("-attempt%d.json", r.Attempt)
		if name != want {
			t.Errorf("blob name: got %q, want %q", name, want)
		}
		f.mu.Lock()
		b := f.blobs[name]
		f.mu.Unlock()
		if b.contentType != "application/json" {
			t.Errorf("blob %s content type: got %q, want application/json", name, b.contentType)
		}
		if diff := cmp.Diff(string(b.body), string(r.JSON())); diff != "" {
			t.Errorf("blob %s content (-got +want):\n%s", name, diff)
		}
	}
	// Something else in the container is not a report.
	f.put("README.txt", []byte("reports of the autopilot"), "text/plain")

	// The same subject spelled differently has the same key.
	guide := verify.Subject{FQDNs: []string{strings.ToUpper(guideFQDN) + "."}}
	for _, tc := range []struct {
		name    string
		subject *verify.Subject
		limit   int
		want    []verify.Report
	}{
		{"all subjects, no limit (two list pages)", nil, 0, []verify.Report{newer, other, older}},
		{"all subjects, limit 2", nil, 2, []verify.Report{newer, other}},
		{"one subject, no limit", &guide, 0, []verify.Report{newer, older}},
		{"one subject, limit 1", &guide, 1, []verify.Report{newer}},
		{"the other subject", &other.Subject, 5, []verify.Report{other}},
		{"a subject never verified", &verify.Subject{FQDNs: []string{"none.azurehealthcareapis.com"}}, 0, []verify.Report{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.Latest(ctx, tc.subject, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("latest (-got +want):\n%s", diff)
			}
		})
	}
}

func TestBlobStoreErrors(t *testing.T) {
	ctx := context.Background()
	r := sampleReport()
	name := blobName(r)

	t.Run("save refused (403) names the blob", func(t *testing.T) {
		st, f, u := newTestStore(t)
		f.denied("PUT " + name)
		_, err := st.Save(ctx, r)
		if err == nil || !strings.Contains(err.Error(), u+"/"+name) || !strings.Contains(err.Error(), "403") {
			t.Errorf("got %v, want an error naming %s/%s and the 403", err, u, name)
		}
	})
	t.Run("list refused (403) names the container", func(t *testing.T) {
		st, f, u := newTestStore(t)
		f.denied("LIST")
		_, err := st.Latest(ctx, nil, 0)
		if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "AuthorizationPermissionMismatch") {
			t.Errorf("got %v, want an error naming %s and the refusal", err, u)
		}
	})
	t.Run("read refused (403) names the blob", func(t *testing.T) {
		st, f, u := newTestStore(t)
		if _, err := st.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		f.denied("GET " + name)
		_, err := st.Latest(ctx, &r.Subject, 1)
		if err == nil || !strings.Contains(err.Error(), u+"/"+name) || !strings.Contains(err.Error(), "403") {
			t.Errorf("got %v, want an error naming %s/%s and the 403", err, u, name)
		}
	})
	t.Run("a broken report names the blob", func(t *testing.T) {
		st, f, u := newTestStore(t)
		broken := verify.SubjectKey(r.Subject) + "/2027-01-01T00:00:00.000000000Z-attempt1.json"
		f.put(broken, []byte("{"), "application/json")
		_, err := st.Latest(ctx, nil, 0)
		if err == nil || !strings.Contains(err.Error(), "parse report "+u+"/"+broken) {
			t.Errorf("got %v, want a parse error naming %s/%s", err, u, broken)
		}
	})
}

func TestNewBlobStoreURL(t *testing.T) {
	cred := &fake.TokenCredential{}
	for _, tc := range []struct {
		name, url, want string // want: "" accepts, else part of the error
	}{
		{"account and container", "https://stautopilot.blob.core.windows.net/verification-reports", ""},
		{"trailing slash", "https://stautopilot.blob.core.windows.net/verification-reports/", ""},
		{"http", "http://stautopilot.blob.core.windows.net/verification-reports", "scheme must be https"},
		{"no container", "https://stautopilot.blob.core.windows.net/", "no container"},
		{"a folder in the container", "https://stautopilot.blob.core.windows.net/verification-reports/2026", "more than a container name"},
		{"uppercase container", "https://stautopilot.blob.core.windows.net/Reports", "not a valid container name"},

		{"not a URL", "verification-reports", "scheme must be https"},
		{"empty", "", "scheme must be https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.url, cred, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want the URL accepted", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.url))):
				t.Errorf("got %v, want an error naming %q and saying %q", err, tc.url, tc.want)
			}
		})
	}
	t.Run("SAS token is refused and not repeated", func(t *testing.T) {
		_, err := New("https://stautopilot.blob.core.windows.net/verification-reports?sv=x&sig=secret", cred, nil)
		if err == nil || !strings.Contains(err.Error(), `"https://stautopilot.blob.core.windows.net/verification-reports"`) || strings.Contains(err.Error(), "secret") {
			t.Errorf("got %v, want an error naming the URL without its query", err)
		}
	})
	t.Run("no credential", func(t *testing.T) {
		if _, err := New("https://stautopilot.blob.core.windows.net/verification-reports", nil, nil); err == nil || !strings.Contains(err.Error(), "no credential") {
			t.Errorf("got %v, want an error saying the credential is missing", err)
		}
	})
}

const guideFQDN = "fhirserverxxx.azurehealthcareapis.com"

func sampleReport() verify.Report {
	return verify.Report{
		Subject:   verify.Subject{FQDNs: []string{guideFQDN}},
		Attempt:   2,
		StartedAt: time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC),
		Checks: []verify.CheckResult{
			{Name: "dns " + guideFQDN + " from hub-vnet", Status: verify.StatusPass, Evidence: []string{"ok chain"}, Duration: 1500 * time.Microsecond},
			{Name: "dns " + guideFQDN + " from spoke-app-vnet", Status: verify.StatusFail, Retryable: true, Duration: 2 * time.Millisecond,
				Evidence: []string{"public chain"}, Diagnosis: "the VNet is not linked"},
		},
	}
}
