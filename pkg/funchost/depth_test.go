package funchost

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Envelopes nested deeper than MaxDepth are refused before decoding, naming
// the field; so is a deep event the host quoted once more.
func TestDeepEnvelopeRefused(t *testing.T) {
	_, err := Decode("id", "ResourceEvents", []byte(`{"Data":`+strings.Repeat("[", 1<<20)))
	var de *DecodeError
	if !errors.As(err, &de) || de.Field != "body" || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
		t.Fatalf("Decode = %v; want a DecodeError on body naming the depth", err)
	}
	inner, _ := json.Marshal(`{"eventType":"x","data":` + strings.Repeat("[", 500) + `}`)
	inv, err := Decode("id", "ResourceEvents", []byte(`{"Data":{"event":`+string(inner)+`},"Metadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.EventGridEvent("event"); !errors.As(err, &de) || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
		t.Errorf("EventGridEvent = %v; want the depth named", err)
	}
}
