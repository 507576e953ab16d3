package cacert

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tt := range []struct {
		name, err string
	}{
		{"root-ca", ""},
		{"Root_CA.2026", ""},
		{strings.Repeat("a", 256), ""},
		{"", "empty"},
		{strings.Repeat("a", 257), "at most 256"},
		{"root ca", `character ' ' at 5`},
		{"root/ca", `character '/' at 5`},
		{"é", `character 'é' at 1`},
	} {
		err := ValidateName(tt.name)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: %v, want %q", tt.name, err, tt.err)
		}
	}
}

// The JSON is ARM's: member for member what the certificates API returns.
func TestJSONIsARMs(t *testing.T) {
	c := Certificate{ID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/provisioningServices/d/certificates/root", Name: "root", Type: ResourceType, ETag: "AAAA",
		Properties: Properties{Subject: "CN=root", Expiry: "Sat, 31 Dec 2039 23:59:59 GMT", Thumbprint: "97388663832D0393C9246CAB4FBA2C8677185A25", IsVerified: false,
			Created: "Thu, 12 Oct 2017 19:23:50 GMT", Updated: "Thu, 12 Oct 2017 19:26:56 GMT", Certificate: "TUlJQg=="}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/provisioningServices/d/certificates/root","name":"root","type":"Microsoft.Devices/provisioningServices/certificates","etag":"AAAA","properties":{"subject":"CN=root","expiry":"Sat, 31 Dec 2039 23:59:59 GMT","thumbprint":"97388663832D0393C9246CAB4FBA2C8677185A25","isVerified":false,"created":"Thu, 12 Oct 2017 19:23:50 GMT","updated":"Thu, 12 Oct 2017 19:26:56 GMT","certificate":"TUlJQg=="}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	v := VerificationCode{Name: "root", ETag: "BBBB", Properties: VerificationCodeProperties{VerificationCode: "CODE", Properties: Properties{Subject: "CN=root"}}}
	b, _ = json.Marshal(v)
	if want := `{"name":"root","etag":"BBBB","properties":{"verificationCode":"CODE","subject":"CN=root","isVerified":false}}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
