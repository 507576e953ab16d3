package apierr

import (
	"context"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func answer(status int, header map[string]string) *http.Response {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Header: h}
}

// TestDecode reads the error answers of the provisioning service (Decode)
// and of IoT hubs (DecodeHub).
func TestDecode(t *testing.T) {
	long := strings.Repeat("x", 512)
	tests := []struct {
		name   string
		hub    bool // an IoT hub's answer
		status int
		header map[string]string
		body   string
		want   ServiceError
		text   string
	}{
		{
			name:   "error details",
			status: 404,
			body:   `{"errorCode":404201,"trackingId":"tid-1","message":"Enrollment not found","info":{"a":"b"},"timestampUtc":"2025-01-01T00:00:00.0000000Z"}`,
			want:   ServiceError{StatusCode: 404, ErrorCode: 404201, TrackingID: "tid-1", Message: "Enrollment not found", Info: map[string]string{"a": "b"}, Timestamp: "2025-01-01T00:00:00.0000000Z"},
			text:   "GET /enrollments/x: 404 Not Found: errorCode 404201: Enrollment not found (trackingId tid-1)",
		},
		{
			name:   "code and Message",
			status: 400,
			body:   `{"code":400004,"Message":"bad id"}`,
			want:   ServiceError{StatusCode: 400, ErrorCode: 400004, Message: "bad id"},
			text:   "GET /enrollments/x: 400 Bad Request: errorCode 400004: bad id",
		},
		{
			name:   "errorCode wins over code, message over Message",
			status: 409,
			body:   `{"errorCode":409001,"code":1,"message":"exists","Message":"other"}`,
			want:   ServiceError{StatusCode: 409, ErrorCode: 409001, Message: "exists"},
		},
		{
			name:   "headers stand in for the body",
			status: 412,
			header: map[string]string{"x-ms-error-code": "412000", "x-ms-request-id": "req-9"},
			body:   `{}`,
			want:   ServiceError{StatusCode: 412, ErrorCode: 412000, TrackingID: "req-9"},
			text:   "GET /enrollments/x: 412 Precondition Failed: errorCode 412000 (trackingId req-9)",
		},
		{
			name:   "body wins over headers",
			status: 404,
			header: map[string]string{"x-ms-error-code": "404000", "x-ms-request-id": "req-9"},
			body:   `{"errorCode":404202,"trackingId":"t"}`,
			want:   ServiceError{StatusCode: 404, ErrorCode: 404202, TrackingID: "t"},
		},
		{
			name:   "empty body",
			status: 503,
			want:   ServiceError{StatusCode: 503},
			text:   "GET /enrollments/x: 503 Service Unavailable",
		},
		{
			name:   "text body",
			status: 412,
			header: map[string]string{"x-ms-error-code": "412000"},
			body:   " precondition failed\n",
			want:   ServiceError{StatusCode: 412, ErrorCode: 412000, Message: "precondition failed"},
		},
		{
			name:   "long text body is dropped",
			status: 502,
			body:   long,
			want:   ServiceError{StatusCode: 502},
		},
		{
			name:   "unreadable x-ms-error-code",
			status: 500,
			header: map[string]string{"x-ms-error-code": "InternalError"},
			body:   `[1]`,
			want:   ServiceError{StatusCode: 500, Message: "[1]"},
		},
		{
			name:   "Retry-After",
			status: 429,
			header: map[string]string{"Retry-After": "3"},
			body:   `{"errorCode":429001}`,
			want:   ServiceError{StatusCode: 429, ErrorCode: 429001, RetryAfter: 3 * time.Second},
		},
		{
			name:   "hub: IoT Hub body",
			hub:    true,
			status: 401,
			body:   `{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:abc123-G:0-TimeStamp:01/02/2025 03:04:05"}`,
			want:   ServiceError{StatusCode: 401, Code: "IotHubUnauthorizedAccess", Message: "Unauthorized", TrackingID: "abc123-G:0"},
			text:   "POST /devices/d/messages/events: 401 Unauthorized: IotHubUnauthorizedAccess: Unauthorized (trackingId abc123-G:0)",
		},
		{
			name:   "hub: Message without a code",
			hub:    true,
			status: 400,
			body:   `{"Message":"bad message"}`,
			want:   ServiceError{StatusCode: 400, Message: "bad message"},
		},
		{
			name:   "hub: numeric errorCode",
			hub:    true,
			status: 404,
			body:   `{"errorCode":404001,"message":"Device not found","trackingId":"t"}`,
			want:   ServiceError{StatusCode: 404, Code: "404001", Message: "Device not found", TrackingID: "t"},
			text:   "POST /devices/d/messages/events: 404 Not Found: 404001: Device not found (trackingId t)",
		},
		{
			name:   "hub: named errorCode",
			hub:    true,
			status: 404,
			body:   `{"errorCode":"DeviceNotFound"}`,
			want:   ServiceError{StatusCode: 404, Code: "DeviceNotFound"},
		},
		{
			name:   "hub: errorCode of another type",
			hub:    true,
			status: 400,
			body:   `{"errorCode":[1],"message":"m"}`,
			want:   ServiceError{StatusCode: 400, Message: "m"},
		},
		{
			name:   "hub: trackingId wins over ExceptionMessage",
			hub:    true,
			status: 500,
			body:   `{"trackingId":"t","ExceptionMessage":"Tracking ID:other"}`,
			want:   ServiceError{StatusCode: 500, TrackingID: "t"},
		},
		{
			name:   "hub: header",
			hub:    true,
			status: 403,
			header: map[string]string{"IotHub-ErrorCode": "DeviceDisabled"},
			want:   ServiceError{StatusCode: 403, Code: "DeviceDisabled"},
			text:   "POST /devices/d/messages/events: 403 Forbidden: DeviceDisabled",
		},
		{
			name:   "hub: body wins over header",
			hub:    true,
			status: 401,
			header: map[string]string{"IotHub-ErrorCode": "Other"},
			body:   `{"Message":"ErrorCode:IotHubUnauthorizedAccess;no"}`,
			want:   ServiceError{StatusCode: 401, Code: "IotHubUnauthorizedAccess", Message: "no"},
		},
		{
			name:   "hub: empty body",
			hub:    true,
			status: 503,
			want:   ServiceError{StatusCode: 503},
		},
		{
			name:   "hub: text body",
			hub:    true,
			status: 502,
			body:   "bad gateway",
			want:   ServiceError{StatusCode: 502, Message: "bad gateway"},
		},
		{
			name:   "hub: Retry-After",
			hub:    true,
			status: 429,
			header: map[string]string{"Retry-After": "10", "IotHub-ErrorCode": "ThrottlingException"},
			want:   ServiceError{StatusCode: 429, Code: "ThrottlingException", RetryAfter: 10 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decode, method, path := Decode, "GET", "/enrollments/x"
			if tt.hub {
				decode, method, path = DecodeHub, "POST", "/devices/d/messages/events"
			}
			got := decode(method, path, answer(tt.status, tt.header), []byte(tt.body), now)
			tt.want.Method, tt.want.Path = method, path
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
			if tt.text != "" && got.Error() != tt.text {
				t.Errorf("text %q, want %q", got.Error(), tt.text)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"3", 3 * time.Second, true},
		{" 1 ", time.Second, true},
		{"0", 0, true},
		{"0.5", 500 * time.Millisecond, true},
		{"86400", MaxRetryAfter, true},
		{"100000", MaxRetryAfter, true},
		{"1e300", MaxRetryAfter, true},
		{"Inf", MaxRetryAfter, true},
		{"-1", 0, false},
		{"-0.001", 0, false},
		{"-Inf", 0, false},
		{"NaN", 0, false},
		{"1e400", 0, false},
		{"soon", 0, false},
		{"3s", 0, false},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(7 * time.Second).Format(time.RFC850), 7 * time.Second, true},
		{now.Add(7 * time.Second).Format(time.ANSIC), 7 * time.Second, true},
		{now.Format(http.TimeFormat), 0, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{"Mon, 99 Jan 2025 00:00:00 GMT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.header, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v, %t; want %v, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzRetryAfter: whatever the header, the wait is between 0 and
// MaxRetryAfter, 0 when unreadable, and whole seconds read exactly.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "3", "0.5", "-1", "NaN", "Inf", "1e300", "0x10", "1_0",
		now.Add(time.Minute).Format(http.TimeFormat), "Sun, 06 Nov 1994 08:49:37 GMT", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("%q: wait %v out of [0, %v]", v, d, MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: unreadable but wait %v", v, d)
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 && n <= int(MaxRetryAfter/time.Second) {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("%q: got %v, %t", v, d, ok)
			}
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && (x < 0 || math.IsNaN(x)) && ok {
			t.Fatalf("%q: accepted", v)
		}
	})
}

// FuzzDecode feeds arbitrary bodies to both decoders: they must not panic,
// must keep the status, and must describe every answer.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"errorCode":404201,"trackingId":"t","message":"Enrollment not found","info":{"a":"b"}}`,
		`{"code":400004,"Message":"bad"}`,
		`{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:abc-G:0-TimeStamp:x"}`,
		`{"errorCode":401002,"message":"Unauthorized","trackingId":"t"}`,
		`{"errorCode":"DeviceNotFound"}`,
		`{"Message":"ErrorCode:"}`,
		`{"errorCode":1e40}`,
		`not json`, ``, `[]`, `null`,
	} {
		f.Add(401, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res := &http.Response{StatusCode: status, Header: http.Header{}}
		for _, e := range []*ServiceError{
			Decode("PUT", "/x/registrations/d/register", res, body, now),
			DecodeHub("POST", "/devices/d/messages/events", res, body, now),
		} {
			if e.StatusCode != status {
				t.Fatalf("status %d, want %d", e.StatusCode, status)
			}
			if e.Error() == "" {
				t.Fatal("empty message")
			}
		}
	})
}

func TestWait(t *testing.T) {
	if err := Wait(context.Background(), 0); err != nil {
		t.Errorf("Wait(0) = %v", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Wait(1ms) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(0) on an ended context = %v, want Canceled", err)
	}
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(1h) on an ended context = %v, want Canceled", err)
	}
}
