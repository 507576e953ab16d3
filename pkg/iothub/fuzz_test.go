package iothub

import (
	"net/http"
	"testing"
)

// FuzzError feeds arbitrary error bodies to the parser of hub errors.
func FuzzError(f *testing.F) {
	for _, s := range []string{
		`{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:abc-G:0-TimeStamp:x"}`,
		`{"errorCode":401002,"message":"Unauthorized","trackingId":"t"}`,
		`{"errorCode":"DeviceNotFound"}`,
		`{"Message":"ErrorCode:"}`,
		`not json`, ``, `[]`,
	} {
		f.Add(401, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res := &http.Response{StatusCode: status, Header: http.Header{}}
		e := newError("POST", "/devices/d/messages/events", res, body)
		if e.StatusCode != status {
			t.Fatalf("status %d, want %d", e.StatusCode, status)
		}
		if e.Error() == "" {
			t.Fatal("empty message")
		}
	})
}
