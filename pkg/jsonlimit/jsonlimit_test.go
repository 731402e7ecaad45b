package jsonlimit

import (
	"errors"
	"strings"
	"testing"
)

func TestDepth(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		max  int
		want int // offset of the refusal, -1 for none
	}{
		{"flat object", `{"a": 1, "b": [1, 2]}`, 2, -1},
		{"exactly at the bound", `[[[]]]`, 3, -1},
		{"one too deep", `[[[[]]]]`, 3, 3},
		{"brackets in strings do not count", `{"a": "[[[[[[[[", "b": "{{{{"}`, 1, -1},
		{"escaped quote does not end a string", `{"a": "\"[[[[[[", "b": 1}`, 1, -1},
		{"escaped backslash ends before the quote", `{"a": "\\", "b": [[[1]]]}`, 3, 19},
		{"closing brackets do not go below zero", `]]]]]][[[`, 2, 8},
		{"unterminated string", `["abc`, 1, -1},
		{"a megabyte of [", strings.Repeat("[", 1<<20), MaxDepth, MaxDepth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Depth([]byte(tt.in), tt.max)
			var de *DepthError
			switch {
			case tt.want < 0 && err != nil:
				t.Fatalf("Depth = %v, want nil", err)
			case tt.want >= 0 && !errors.As(err, &de):
				t.Fatalf("Depth = %v, want a *DepthError", err)
			case tt.want >= 0 && (de.Offset != tt.want || de.Max != tt.max):
				t.Fatalf("Depth = %+v, want offset %d max %d", de, tt.want, tt.max)
			}
		})
	}
	if err := Depth([]byte(strings.Repeat("[", MaxDepth+1)), 0); err == nil || !strings.Contains(err.Error(), "deeper than 64 levels") {
		t.Errorf("default bound: %v", err)
	}
}

// The check allocates nothing, whatever the input.
func TestDepthAllocatesNothing(t *testing.T) {
	b := []byte(strings.Repeat(`{"a":[`, 1<<16))
	if n := testing.AllocsPerRun(10, func() { _ = Depth(b, 1<<20) }); n != 0 {
		t.Errorf("Depth allocates %v times per run", n)
	}
}

func BenchmarkDepthMegabyte(b *testing.B) {
	body := []byte(`[` + strings.Repeat(`{"id":"x","data":{"claims":{"a":"b"}}},`, 1<<20/40) + `{}]`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Depth(body, MaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}
