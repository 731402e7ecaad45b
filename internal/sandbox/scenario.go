package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Scenario is the starting state of a sandbox and its fault and load model.
type Scenario struct {
	// Resources are ARM resources exactly as ARM GET returns them.
	Resources []json.RawMessage `json:"resources"`
	// Faults injects errors at a rate or on named calls.
	Faults Faults `json:"faults,omitempty"`
	// Throttling configures ARM's per-subscription token buckets.
	Throttling Throttling `json:"throttling,omitempty"`
	// Latency is added to every call (e.g. "30ms").
	Latency Duration `json:"latency,omitempty"`
	// LRO is the number of "InProgress" polls before a long-running
	// operation completes (0: completes on the first response).
	LROPolls int `json:"lroPolls,omitempty"`
	// LinkInProgressReads makes a newly created VNet link read as
	// "InProgress" for this many GETs before "Completed".
	LinkInProgressReads int `json:"linkInProgressReads,omitempty"`
	// PublicAccessDelay is how long a change of a target's
	// publicNetworkAccess takes to reach its public listener (the guide:
	// "up to 5 minutes"); until then public clients get what they got
	// before. Unset: DefaultPublicAccessDelay; "0s": at once.
	PublicAccessDelay *Duration `json:"publicAccessDelay,omitempty"`

	// source names the file the scenario came from, for error messages.
	source string
}

// Faults is the error-injection model. Random faults are drawn from a seeded
// RNG, so a run is reproducible.
type Faults struct {
	Seed   int64         `json:"seed,omitempty"`
	Random []RandomFault `json:"random,omitempty"`
	Rules  []FaultRule   `json:"rules,omitempty"`
}

// RandomFault answers a fraction Rate (0..1) of the matching calls with
// Status. Method and Match narrow which calls qualify (empty: all).
type RandomFault struct {
	Status     int      `json:"status"`
	Code       string   `json:"code,omitempty"`
	Rate       float64  `json:"rate"`
	Method     string   `json:"method,omitempty"`
	Match      string   `json:"match,omitempty"`
	RetryAfter Duration `json:"retryAfter,omitempty"`
	// LRO makes the fault one of a long-running write instead of the
	// request: ARM accepts the write (202), does not apply it, and the
	// operation then fails with Code (its first status poll answers 200,
	// status Failed, as ARM does; Status only counts the fault in Stats).
	// Reads are not matched.
	LRO bool `json:"lro,omitempty"`
}

// FaultRule answers the calls it matches with Status. A call matches when its
// HTTP method equals Method (if set), its resource ID contains ID
// (case-insensitive, if set) and its operation ("PUT
// Microsoft.Network/privateDnsZones/virtualNetworkLinks") or SDK API name
// ("VirtualNetworksClient.Get") contains Operation (if set). Skip lets the
// first N matches through; Count limits how many are failed (0 = all).
type FaultRule struct {
	Method     string   `json:"method,omitempty"`
	ID         string   `json:"id,omitempty"`
	Operation  string   `json:"operation,omitempty"`
	Status     int      `json:"status"`
	Code       string   `json:"code,omitempty"`
	Message    string   `json:"message,omitempty"`
	RetryAfter Duration `json:"retryAfter,omitempty"`
	Skip       int      `json:"skip,omitempty"`
	Count      int      `json:"count,omitempty"`
	// LRO: as RandomFault.LRO, the write is accepted and its long-running
	// operation fails with Status and Code.
	LRO bool `json:"lro,omitempty"`
}

// Throttling configures ARM's token buckets per subscription. Zero values
// take ARM's published limits; Disabled switches throttling off.
type Throttling struct {
	Disabled bool   `json:"disabled,omitempty"`
	Reads    Bucket `json:"reads,omitempty"`
	Writes   Bucket `json:"writes,omitempty"`
	Deletes  Bucket `json:"deletes,omitempty"`
}

// Bucket is a token bucket: Burst tokens, refilled at PerSecond.
type Bucket struct {
	Burst     int     `json:"burst,omitempty"`
	PerSecond float64 `json:"perSecond,omitempty"`
}

// ARM's documented per-subscription limits.
var (
	ARMReads   = Bucket{Burst: 250, PerSecond: 25}
	ARMWrites  = Bucket{Burst: 200, PerSecond: 10}
	ARMDeletes = Bucket{Burst: 200, PerSecond: 10}
)

// Duration is a time.Duration written as a Go duration string ("250ms") or
// a number of seconds.
type Duration time.Duration

// UnmarshalJSON accepts "1.5s" or 1.5.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("invalid duration %s: want a string like \"250ms\" or seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadScenario reads a scenario file. YAML (.yaml, .yml) or JSON (anything
// else) by extension. A bare JSON/YAML array is a list of resources, as
// `az resource list` prints it.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(data, filepath.Ext(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc.source = path
	return sc, nil
}

// ParseScenario decodes scenario data; ext selects YAML (".yaml", ".yml")
// or JSON.
func ParseScenario(data []byte, ext string) (*Scenario, error) {
	isYAML := false
	switch strings.ToLower(ext) {
	case ".yaml", ".yml":
		isYAML = true
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("invalid yaml: %w", err)
		}
		data = j
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("scenario is empty")
	}
	sc := &Scenario{}
	if data[0] == '[' {
		if err := json.Unmarshal(data, &sc.Resources); err != nil {
			return nil, fmt.Errorf("invalid resource list: %w", jsonErr(data, err, isYAML))
		}
		return sc, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(sc); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", jsonErr(data, err, isYAML))
	}
	return sc, nil
}

// jsonErr adds the line number to a JSON syntax or type error (YAML was
// converted to JSON, so its JSON line numbers would mislead).
func jsonErr(data []byte, err error, isYAML bool) error {
	if isYAML {
		return err
	}
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}
