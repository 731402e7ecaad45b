package sandbox

import (
	"path/filepath"
	"testing"
)

var guide = filepath.Join("..", "..", "testdata", "scenarios", "guide.yaml")

func TestGuideScenarioLoadsCleanly(t *testing.T) {
	sb, err := Load(guide)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if w := sb.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	want := []string{"00000000-0000-0000-0000-0000000000aa", "00000000-0000-0000-0000-0000000000bb", "00000000-0000-0000-0000-0000000000cc"}
	if got := sb.SubscriptionIDs(); len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("subscriptions = %v, want %v", got, want)
	}
}
