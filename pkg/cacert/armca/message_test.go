package armca

import (
	"strings"
	"testing"
)

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"error":{"code":"CertificateVerificationFailed","message":"The verification certificate was not accepted: it is not signed by the key of CN=Root."}}`,
			"The verification certificate was not accepted: it is not signed by the key of CN=Root"},
		{`{"error":{"code":"X","message":"two\nlines  and\tspaces"}}`, "two lines and spaces"},
		{`{"error":{"code":"X"}}`, ""},
		{`{"Message":"ErrorCode:IotHubUnauthorizedAccess"}`, ""},
		{`not json`, ""},
		{``, ""},
	} {
		if got := errorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.body, got, tc.want)
		}
	}
}

// An error body is what the network sent: any bytes give a message on one
// line, and never a panic.
func FuzzErrorMessage(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"CertificateVerificationFailed","message":"not accepted."}}`))
	f.Add([]byte(`{"error":{"message":"a\nb"}}`))
	f.Add([]byte(`{"error":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m := errorMessage(body)
		if strings.ContainsAny(m, "\n\r\t") || m != strings.TrimSpace(m) {
			t.Fatalf("message %q of %q is not one trimmed line", m, body)
		}
	})
}
