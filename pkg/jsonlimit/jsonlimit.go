package jsonlimit

import "fmt"

// MaxDepth is the nesting accepted where input arrives: an ARM event nests
// about six levels (event, data, authorization, evidence ...), a host
// envelope adds three, a job two; 64 leaves room and keeps any decoder's
// work linear.
const MaxDepth = 64

// DepthError says where a JSON text went deeper than allowed.
type DepthError struct {
	// Offset is the byte of the bracket that went too deep.
	Offset int
	// Max is the bound.
	Max int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", e.Max, e.Offset)
}

// Depth returns a *DepthError when b opens more than max arrays or objects
// inside one another (outside strings), nil otherwise. max <= 0 means
// MaxDepth.
func Depth(b []byte, max int) error {
	if max <= 0 {
		max = MaxDepth
	}
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return &DepthError{Offset: i, Max: max}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}
