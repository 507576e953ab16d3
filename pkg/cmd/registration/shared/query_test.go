package shared

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// counting counts the registration state reads in flight.
type counting struct {
	next http.RoundTripper

	mu            sync.Mutex
	inFlight, max int
	reads         int
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	read := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/registrations/")
	if read {
		c.mu.Lock()
		c.inFlight++
		c.reads++
		c.max = max(c.max, c.inFlight)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
		}()
	}
	return c.next.RoundTrip(r)
}

func (c *counting) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight, c.max, c.reads = 0, 0, 0
}

// fixture: groups g1 (a1, a2) and g2 (b1) and an x509 group without
// registrations; individual enrollments e-00…e-19 of which every third has
// registered, plus an individual enrollment "a2" (its state came through
// g1 and is listed once).
func fixture(t *testing.T) (*server.Instance, *dps.Client, *counting) {
	t.Helper()
	inst, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "g1", nil)
	grouptest.SymmetricGroup(t, c, "g2", nil)
	grouptest.Put(t, c, &model.EnrollmentGroup{
		EnrollmentGroupID: "g3",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{
			Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "r"}}}},
	}, nil)
	grouptest.PutRegistration(t, inst, "g1", grouptest.Registered("a1", "hub1.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "g1", grouptest.Registered("a2", "hub1.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "g2", grouptest.Registered("b1", "hub2.azure-devices.net", cmdtest.Now))
	for i := range 20 {
		id := fmt.Sprintf("e-%02d", i)
		grouptest.Enrollment(t, c, id)
		if i%3 == 0 {
			grouptest.PutRegistration(t, inst, "", grouptest.Registered(id, "hub3.azure-devices.net", cmdtest.Now))
		}
	}
	grouptest.Enrollment(t, c, "a2")
	ct := &counting{next: server.Transport(inst.Handler())}
	client, err := dps.New(dps.Options{
		ConnectionString: inst.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: ct},
		MaxRetries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return inst, client, ct
}

// TestQueries shares one fixture: writing it is most of the time.
func TestQueries(t *testing.T) {
	_, c, ct := fixture(t)
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, c *dps.Client, ct *counting)
	}{
		{"all", testAllRegistrations},
		{"all stops early", testAllRegistrationsStopsEarly},
		{"group", testGroupRegistrations},
		{"completion", testCompleteIDs},
	} {
		ct.reset()
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, c, ct) })
	}
}

func testAllRegistrations(t *testing.T, c *dps.Client, ct *counting) {
	var got []string
	for r, err := range AllRegistrations(context.Background(), c, dps.QueryOptions{PageSize: 4}, 3) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RegistrationID+"@"+r.EnrollmentGroupID)
	}
	want := "a1@g1 a2@g1 b1@g2 e-00@ e-03@ e-06@ e-09@ e-12@ e-15@ e-18@"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	// One read per individual enrollment not already listed, at most three
	// at a time.
	if ct.reads != 20 || ct.max > 3 || ct.max < 1 {
		t.Errorf("%d reads, %d at most in flight", ct.reads, ct.max)
	}
}

// Stopping early (as --top does) cancels the reads in flight and leaves no
// goroutine behind.
func testAllRegistrationsStopsEarly(t *testing.T, c *dps.Client, ct *counting) {
	before := runtime.NumGoroutine()
	n := 0
	for _, err := range AllRegistrations(context.Background(), c, dps.QueryOptions{}, 4) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	// Goroutines of the in-process transport may take a moment to end on a
	// busy machine: wait for them, a bounded while.
	after := runtime.NumGoroutine()
	for i := 0; i < 2000 && after > before; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
	if ct.reads >= 20 {
		t.Errorf("%d reads after stopping at the second individual registration", ct.reads)
	}
}

func TestAllRegistrationsEmpty(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	for r, err := range AllRegistrations(context.Background(), c, dps.QueryOptions{}, 0) {
		t.Fatalf("got %+v %v", r, err)
	}
}

func testGroupRegistrations(t *testing.T, c *dps.Client, _ *counting) {
	var got []string
	for r, err := range GroupRegistrations(context.Background(), c, "G1", dps.QueryOptions{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RegistrationID+"@"+r.EnrollmentGroupID)
	}
	if strings.Join(got, " ") != "a1@G1 a2@G1" {
		t.Fatalf("got %v", got)
	}
	for r, err := range GroupRegistrations(context.Background(), c, "g3", dps.QueryOptions{}) {
		t.Fatalf("empty group: %+v %v", r, err)
	}
	n := 0
	for _, err := range GroupRegistrations(context.Background(), c, "nope", dps.QueryOptions{}) {
		n++
		if !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
			t.Fatalf("missing group: %v", err)
		}
	}
	if n != 1 {
		t.Fatalf("%d items for a missing group", n)
	}
}

func TestErrorText(t *testing.T) {
	for want, s := range map[string]model.DeviceRegistrationState{
		"":                            {Status: "assigned"},
		"401002 Invalid certificate.": {ErrorCode: 401002, ErrorMessage: "Invalid certificate."},
		"404201":                      {ErrorCode: 404201},
		"custom allocation failed":    {ErrorMessage: "custom allocation failed"},
	} {
		if got := ErrorText(s); got != want {
			t.Errorf("ErrorText(%+v) = %q, want %q", s, got, want)
		}
	}
}
