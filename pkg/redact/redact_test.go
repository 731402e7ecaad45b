package redact

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	fnKey  = "Zm9vYmFyS2V5MTIzNDU2Nzg5MA=="
	jwt    = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuY29yZS53aW5kb3dzLm5ldC8ifQ.c2lnbmF0dXJlLXNlY3JldA"
	sasSig = "AbCdEf%2BgHiJk%3D"
	acctK  = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
	sbKey  = "c2VydmljZWJ1c2tleXNlY3JldA+/="
	pw     = "hunter2-Passw0rd!"
)

// Every secret an attacker or a careless client could put in a request, in
// the shapes a log line would see it.
var shapes = map[string]struct{ text, secret string }{
	"code in a URL":                 {"POST https://func.azurewebsites.net/api/events?code=" + fnKey + "&x=1", fnKey},
	"code in an escaped JSON URL":   {`{"Url":"https://h/api/events?a=1\u0026code=` + fnKey + `"}`, fnKey},
	"function key header map":       {`{"Headers":{"x-functions-key":["` + fnKey + `"],"Content-Type":["application/json"]}}`, fnKey},
	"function key header line":      {"X-Functions-Key: " + fnKey + "\r\nHost: x\r\n", fnKey},
	"authorization header map":      {`{"Headers":{"Authorization":["Bearer ` + jwt + `"]}}`, jwt},
	"authorization header line":     {"GET / HTTP/1.1\r\nAuthorization: Bearer " + jwt + "\r\n", jwt},
	"bare bearer token":             {"token was Bearer " + jwt + " ok", jwt},
	"bare JWT":                      {"claims " + jwt, jwt},
	"basic auth":                    {"Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"},
	"SAS URL":                       {"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026&sig=" + sasSig + "&sp=r", sasSig},
	"storage connection string":     {"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + acctK + ";EndpointSuffix=core.windows.net", acctK},
	"service bus connection string": {"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=" + sbKey, sbKey},
	"password in JSON":              {`{"user":"a","password":"` + pw + `"}`, pw},
	"client secret param":           {"grant_type=client_credentials&client_secret=" + pw, pw},
	"validation code":               {`{"data":{"validationCode":"` + fnKey + `"}}`, fnKey},
	"single-quoted JSON":            {`{'key': '` + fnKey + `'}`, fnKey},
}

func TestRedactsEveryShape(t *testing.T) {
	for name, tt := range shapes {
		t.Run(name, func(t *testing.T) {
			got := String(tt.text, 0)
			if strings.Contains(got, tt.secret) {
				t.Errorf("secret left in %q", got)
			}
			if !strings.Contains(got, Mask) {
				t.Errorf("no %s in %q", Mask, got)
			}
		})
	}
}

// Whatever the size and shape of the body and wherever the cap falls, no
// secret survives: the text past the cap is redacted before the cut and
// half a token at the cut is dropped.
func TestRedactsWhateverTheSizeAndCut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	filler := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = byte(r.IntN(256)) // binary, invalid UTF-8
			case 1:
				b[i] = ' '
			default:
				b[i] = byte('a' + r.IntN(26))
			}
		}
		return string(b)
	}
	for name, tt := range shapes {
		for i := range 200 {
			body := filler(r.IntN(3000)) + " " + tt.text + " " + filler(r.IntN(3000))
			limit := 1 + r.IntN(len(body)+10)
			if i%10 == 0 {
				limit = 0
			}
			got := Bytes([]byte(body), limit)
			if strings.Contains(got, tt.secret) || (len(tt.secret) > 12 && strings.Contains(got, tt.secret[:12])) {
				t.Fatalf("%s: secret (or its first 12 bytes) survived with limit %d: %q", name, limit, got)
			}
			if limit > 0 && len(got) > limit+40 && len(body) > limit {
				t.Fatalf("%s: %d bytes logged for limit %d", name, len(got), limit)
			}
		}
	}
	// a 9 MiB body: only the window is read, and the size is reported
	big := strings.Repeat("xxxxxxx ", 9<<17) + "?code=" + fnKey
	got := Bytes([]byte(big), DefaultMax)
	if len(got) > DefaultMax+40 || len(got) < DefaultMax-16 || !strings.Contains(got, fmt.Sprintf("%d bytes in all", len(big))) || strings.Contains(got, fnKey) {
		t.Errorf("9 MiB body logged as %d bytes: ...%q", len(got), got[max(0, len(got)-80):])
	}
}

func TestKeepsOrdinaryText(t *testing.T) {
	in := `{"id":"6a7b","topic":"/subscriptions/00000000-0000-0000-0000-0000000000bb","eventType":"Microsoft.Resources.ResourceWriteSuccess","data":{"operationName":"Microsoft.Network/privateEndpoints/write"}}`
	if got := String(in, 0); got != in {
		t.Errorf("changed ordinary event:\n%s\n%s", in, got)
	}
}

func BenchmarkRedact64KiB(b *testing.B) {
	body := []byte(strings.Repeat(`{"a":"b","Url":"https://h/api?code=`+fnKey+`"},`, 2000))
	for b.Loop() {
		Bytes(body, 64<<10)
	}
}
