package redact

import (
	"regexp"
	"strconv"
	"strings"
)

// Mask replaces a secret.
const Mask = "[REDACTED]"

// DefaultMax is the cap for a logged request body or value.
const DefaultMax = 4 << 10

// secretNames are parameters, headers and JSON fields whose values are
// secrets (compared lower-case).
var secretNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`code sig signature key apikey api_key api-key x-functions-key x-api-key
		accountkey account_key sharedaccesskey shared_access_key sharedaccesssignature access_token accesstoken
		refresh_token id_token token client_secret clientsecret secret password passwd pwd validationcode
		authorization proxy-authorization cookie set-cookie ocp-apim-subscription-key x-ms-client-secret`) {
		m[n] = true
	}
	return m
}()

var (
	// bearer and basic credentials anywhere
	credRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9\-_.~+/]+=*`)
	// JWTs anywhere (access tokens, id tokens)
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?`)
)

// String redacts s and caps the result at limit bytes (no cap when
// limit <= 0), marking a cut with "...[cut; N bytes in all]".
func String(s string, limit int) string { return capped(s, limit, len(s)) }

// Bytes is String for a byte slice; it never copies more than the part it
// may log.
func Bytes(b []byte, limit int) string {
	if limit > 0 && len(b) > limit+window {
		return capped(string(b[:limit+window]), limit, len(b))
	}
	return capped(string(b), limit, len(b))
}

// window is how far past the cap the text is redacted, so that a secret
// straddling the cap is recognised whole.
const window = 1024

func capped(s string, limit, total int) string {
	r, cut := redactCap(s, limit, total)
	if cut {
		r += "...[cut; " + strconv.Itoa(total) + " bytes in all]"
	}
	return r
}

// Cap redacts b and caps it at limit bytes without a marker, and says
// whether it cut (for a log line that reports the cut in a field of its
// own). Like Bytes, it reads at most a small window past limit.
func Cap(b []byte, limit int) (string, bool) {
	if limit > 0 && len(b) > limit+window {
		return redactCap(string(b[:limit+window]), limit, len(b))
	}
	return redactCap(string(b), limit, len(b))
}

func redactCap(s string, limit, total int) (string, bool) {
	if limit <= 0 || total <= limit {
		return strings.ToValidUTF8(redactAll(s), "?"), false
	}
	r := redactAll(s[:min(len(s), limit+window)])
	if len(r) > limit {
		r = r[:limit]
	}
	return strings.ToValidUTF8(dropTrailingToken(r), "?"), true
}

func redactAll(s string) string {
	s = redactNamed(s)
	lower := strings.ToLower(s)
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") {
		s = credRE.ReplaceAllString(s, "${1} "+Mask)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllString(s, Mask)
	}
	return s
}

// redactNamed replaces the value after every "name=", "name:", "\"name\":"
// or "'name':" whose name is a secret name, in one pass: query strings,
// connection strings, header lines, header maps and JSON fields.
func redactNamed(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' && c != ':' {
			continue
		}
		name, quoted := nameBefore(s, i)
		if name == "" || !secretNames[name] {
			continue
		}
		start, end := valueAfter(s, i+1, c, quoted)
		if end <= start {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last, i = end, end-1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// nameBefore returns the lower-cased name ending before the separator at
// i (skipping spaces and a closing quote), and whether it was quoted.
func nameBefore(s string, i int) (string, bool) {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	quoted := false
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		quoted = true
		j--
	}
	end := j
	for j > 0 && end-j < 64 && isNameChar(s[j-1]) {
		j--
	}
	name := strings.ToLower(s[j:end])
	// "\u0026code=" (an escaped & in JSON)
	if k := strings.LastIndex(name, "u0026"); k >= 0 && j+k > 0 && s[j+k-1] == '\\' {
		name = name[k+len("u0026"):]
	}
	return name, quoted
}

// valueAfter returns the span of the value starting at i after separator
// sep: a quoted string (also inside a [ list), else up to a delimiter; an
// unquoted name with ':' is a header line, whose value runs to the line end.
func valueAfter(s string, i int, sep byte, quotedName bool) (int, int) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if sep == ':' && i < len(s) && s[i] == '[' {
		i++
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	if i >= len(s) {
		return i, i
	}
	if q := s[i]; q == '"' || q == '\'' {
		j := i + 1
		for j < len(s) && s[j] != q {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		return i + 1, min(j, len(s))
	}
	j := i
	if sep == ':' && !quotedName {
		for j < len(s) && s[j] != '\r' && s[j] != '\n' {
			j++
		}
		return i, j
	}
	for j < len(s) && !strings.ContainsRune("&; \t\r\n\"',})]\\", rune(s[j])) {
		j++
	}
	return i, j
}

// dropTrailingToken removes the trailing run of token characters (a secret
// cut in half cannot be recognised), unless it ends in Mask.
func dropTrailingToken(s string) string {
	if strings.HasSuffix(s, Mask) {
		return s
	}
	i := strings.LastIndexAny(s, " \"',&;\n\r\t{}[]:=")
	return s[:i+1]
}
