package blobstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/plautopilot/autopilot/pkg/verify"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Store keeps reports as blobs <subject key>/<time>-attempt<N>.json in
// an Azure Storage blob container (the deployment's verification-reports
// container, AUTOPILOT_REPORTS_URL).
type Store struct {
	url    string // the container URL, as given, for messages
	client *container.Client
}

// blobTimeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so
// that names sort lexically in time order (time.RFC3339Nano trims zeros
// and does not).
const blobTimeLayout = "2006-01-02T15:04:05.000000000Z"

// maxReportSize bounds what Latest reads from one blob.
const maxReportSize = 16 << 20

// containerNameRE is Azure's rule for container names (with a length of
// 3 to 63, checked apart).
var containerNameRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// New returns a store in the blob container at containerURL
// (https://ACCOUNT.blob.core.windows.net/CONTAINER), authenticated with
// cred (the identity needs Storage Blob Data Contributor or Owner). The
// container must exist: the store does not create it. opts may be nil.
func New(containerURL string, cred azcore.TokenCredential, opts *container.ClientOptions) (*Store, error) {
	if err := checkContainerURL(containerURL); err != nil {
		return nil, err
	}
	if cred == nil {
		return nil, fmt.Errorf("report container %q: no credential", containerURL)
	}
	c, err := container.NewClient(strings.TrimSuffix(containerURL, "/"), cred, opts)
	if err != nil {
		return nil, fmt.Errorf("report container %q: %w", containerURL, err)
	}
	return &Store{url: strings.TrimSuffix(containerURL, "/"), client: c}, nil
}

// checkContainerURL accepts https://HOST/CONTAINER only.
func checkContainerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("report container URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("report container URL %q: scheme must be https, not %q", raw, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("report container URL %q: no storage account host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		// A SAS token or password is not repeated in the message (logs).
		shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		return fmt.Errorf("report container URL %q (credentials, query or fragment left out here): must be https://ACCOUNT.blob.core.windows.net/CONTAINER without them; the app authenticates with its identity", shown.String())
	}
	name := strings.Trim(u.Path, "/")
	switch {
	case name == "":
		return fmt.Errorf("report container URL %q: no container in the path (want https://ACCOUNT.blob.core.windows.net/CONTAINER)", raw)
	case strings.Contains(name, "/"):
		return fmt.Errorf("report container URL %q: path %q is more than a container name (want https://ACCOUNT.blob.core.windows.net/CONTAINER)", raw, u.Path)
	case len(name) < 3 || len(name) > 63 || !containerNameRE.MatchString(name):
		return fmt.Errorf("report container URL %q: %q is not a valid container name (3-63 lowercase letters, digits and single hyphens)", raw, name)
	}
	return nil
}

// blobName is where a report is kept: grouped by subject, sorted by time.
func blobName(r verify.Report) string {
	return fmt.Sprintf("%s/%s-attempt%d.json", verify.SubjectKey(r.Subject), r.StartedAt.UTC().Format(blobTimeLayout), r.Attempt)
}

// Save uploads the report's JSON (verify.Report.JSON) as one block blob. Saving
// the same report again overwrites the blob with the same content.
func (b *Store) Save(ctx context.Context, r verify.Report) (string, error) {
	name := blobName(r)
	ct := "application/json"
	_, err := b.client.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(r.JSON())), &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
	})
	if err != nil {
		return "", fmt.Errorf("save report %s/%s: %w", b.url, name, err)
	}
	return name, nil
}

// Latest lists the reports, for one subject when subject is not nil, and
// reads up to limit of them (all when limit <= 0), newest first. A blob
// that cannot be read or parsed is an error naming it: nothing is skipped
// silently. Blobs not named as Save names them are not reports and are
// left out.
func (b *Store) Latest(ctx context.Context, subject *verify.Subject, limit int) ([]verify.Report, error) {
	prefix := ""
	if subject != nil {
		prefix = verify.SubjectKey(*subject) + "/"
	}
	var names []string
	pager := b.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list reports in %s (prefix %q): %w", b.url, prefix, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			if it == nil || it.Name == nil {
				continue
			}
			if isReportBlob(*it.Name) {
				names = append(names, *it.Name)
			}
		}
	}
	// Newest first across subjects: by the time part after the subject key.
	sort.SliceStable(names, func(i, j int) bool {
		ti, tj := reportTimePart(names[i]), reportTimePart(names[j])
		if ti != tj {
			return ti > tj
		}
		return names[i] > names[j]
	})
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	out := make([]verify.Report, 0, len(names))
	for _, n := range names {
		body, err := b.read(ctx, n)
		if err != nil {
			return out, fmt.Errorf("read report %s/%s: %w", b.url, n, err)
		}
		var r verify.Report
		if err := json.Unmarshal(body, &r); err != nil {
			return out, fmt.Errorf("parse report %s/%s: %w", b.url, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// read downloads one blob.
func (b *Store) read(ctx context.Context, name string) ([]byte, error) {
	resp, err := b.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	if resp.Body == nil {
		return nil, fmt.Errorf("no content")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxReportSize {
		return nil, fmt.Errorf("larger than %d bytes", maxReportSize)
	}
	return body, nil
}

// isReportBlob reports whether name has the shape Save gives:
// KEY/TIME-attemptN.json.
func isReportBlob(name string) bool {
	key, rest, ok := strings.Cut(name, "/")
	return ok && key != "" && rest != "" && !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".json")
}

// reportTimePart is the name without the subject key.
func reportTimePart(name string) string {
	_, rest, _ := strings.Cut(name, "/")
	return rest
}
