package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// ReportStore keeps verification reports for audit.
type ReportStore interface {
	// Save stores the report and returns its name in the store.
	Save(ctx context.Context, r Report) (string, error)
	// Latest returns up to limit reports, newest first; for one subject
	// only when subject is not nil.
	Latest(ctx context.Context, subject *Subject, limit int) ([]Report, error)
}

// SubjectKey is a short stable hash of a subject's identity (target,
// connection, endpoint and FQDNs, case-insensitive): the same subject
// verified again gets the same key.
func SubjectKey(s Subject) string {
	parts := []string{core.IDKey(s.TargetID), core.IDKey(s.ConnectionID), core.IDKey(s.EndpointID)}
	f := make([]string, 0, len(s.FQDNs))
	for _, n := range s.FQDNs {
		f = append(f, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	slices.Sort(f)
	parts = append(parts, strings.Join(f, ","), strings.ToLower(s.MetadataURL))
	sum := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(sum[:6])
}

// DirStore keeps reports as files <time>-<subject key>.json in a folder.
type DirStore struct{ dir string }

// NewDirStore returns a store in dir, creating the folder.
func NewDirStore(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("report store folder: empty path")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report store folder %s: %w", dir, err)
	}
	return &DirStore{dir: dir}, nil
}

// timeLayout sorts lexically in time order.
const timeLayout = "20060102T150405.000000000Z"

// Save writes the report atomically (temporary file, then rename).
func (d *DirStore) Save(_ context.Context, r Report) (string, error) {
	name := fmt.Sprintf("%s-%s.json", r.StartedAt.UTC().Format(timeLayout), SubjectKey(r.Subject))
	tmp, err := os.CreateTemp(d.dir, ".report-*")
	if err != nil {
		return "", fmt.Errorf("save report: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(r.JSON()); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save report %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save report %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.dir, name)); err != nil {
		return "", fmt.Errorf("save report %s: %w", name, err)
	}
	return name, nil
}

// Latest reads the newest reports first. A file that cannot be read or
// parsed is an error naming it: nothing is skipped silently.
func (d *DirStore) Latest(_ context.Context, subject *Subject, limit int) ([]Report, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("list reports in %s: %w", d.dir, err)
	}
	suffix := ".json"
	if subject != nil {
		suffix = "-" + SubjectKey(*subject) + ".json"
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	out := make([]Report, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(d.dir, n))
		if err != nil {
			return out, fmt.Errorf("read report %s: %w", n, err)
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return out, fmt.Errorf("parse report %s: %w", filepath.Join(d.dir, n), err)
		}
		out = append(out, r)
	}
	return out, nil
}
