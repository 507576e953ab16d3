package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// newService opens a local provisioning service reached in process.
func newService(t testing.TB) *dps.Client {
	t.Helper()
	inst, err := server.Open(server.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	c, err := dps.New(dps.Options{
		ConnectionString: inst.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(inst.Handler())},
		MaxRetries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// faulty wraps a client, counts calls and in-flight calls, and fails the
// calls that inject says to.
type faulty struct {
	Client
	mu       sync.Mutex
	calls    []string // "bulk create 10", "get dev-1", "attestation dev-1"
	inject   func(call string, n int) error
	inflight atomic.Int32
	maxIn    atomic.Int32
}

func (f *faulty) enter(call string) error {
	n := f.inflight.Add(1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	count := 0
	for _, c := range f.calls {
		if c == call {
			count++
		}
	}
	inject := f.inject
	f.mu.Unlock()
	time.Sleep(100 * time.Microsecond) // let calls overlap
	if inject != nil {
		return inject(call, count)
	}
	return nil
}

func (f *faulty) BulkEnrollments(ctx context.Context, mode string, items []model.IndividualEnrollment) (*model.BulkEnrollmentOperationResult, error) {
	defer f.inflight.Add(-1)
	if err := f.enter(fmt.Sprintf("bulk %s %d", mode, len(items))); err != nil {
		return nil, err
	}
	return f.Client.BulkEnrollments(ctx, mode, items)
}

func (f *faulty) GetEnrollment(ctx context.Context, id string) (*model.IndividualEnrollment, error) {
	defer f.inflight.Add(-1)
	if err := f.enter("get " + id); err != nil {
		return nil, err
	}
	return f.Client.GetEnrollment(ctx, id)
}

func (f *faulty) GetEnrollmentAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error) {
	defer f.inflight.Add(-1)
	if err := f.enter("attestation " + id); err != nil {
		return nil, err
	}
	return f.Client.GetEnrollmentAttestation(ctx, id)
}

func (f *faulty) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func symmetric(id string, keys ...string) *model.IndividualEnrollment {
	k := &model.SymmetricKeyAttestation{}
	if len(keys) > 0 {
		k.PrimaryKey = keys[0]
	}
	if len(keys) > 1 {
		k.SecondaryKey = keys[1]
	}
	return &model.IndividualEnrollment{RegistrationID: id, EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: k}}}
}

func tpmEnrollment(id, ek string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{RegistrationID: id, EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationTPM, TPM: &model.TPMAttestation{EndorsementKey: ek}}}}
}

func itemsOf(es ...*model.IndividualEnrollment) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for i, e := range es {
			c := *e // the importer must not depend on the caller keeping items
			if !yield(Item{Line: i + 2, Enrollment: &c}) {
				return
			}
		}
	}
}

// itemsJSONOf is itemsOf with the enrollments given as their wire JSON.
func itemsJSONOf(es ...*model.IndividualEnrollment) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for i, e := range es {
			b, err := json.Marshal(e)
			if err != nil {
				panic(err)
			}
			if !yield(Item{Line: i + 2, ID: e.RegistrationID, JSON: b}) {
				return
			}
		}
	}
}

func many(n int, prefix string) []*model.IndividualEnrollment {
	out := make([]*model.IndividualEnrollment, n)
	for i := range out {
		out[i] = symmetric(fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}

// collect runs an import and returns the results in emit order.
func collect(t *testing.T, c Client, opts Options, items iter.Seq[Item]) ([]Result, Summary) {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	var got []Result
	sum, err := Run(context.Background(), c, items, opts, func(r Result) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, sum
}

func outcomes(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d %s %s", r.Line, r.RegistrationID, r.Outcome)
		if r.ErrorCode != "" {
			fmt.Fprintf(&b, " %s", r.ErrorCode)
		}
		if r.Message != "" {
			fmt.Fprintf(&b, " (%s)", r.Message)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestCreateInBatchesInOrder(t *testing.T) {
	f := &faulty{Client: newService(t)}
	es := many(95, "dev")
	got, sum := collect(t, f, Options{Concurrency: 3}, itemsOf(es...))
	if len(got) != 95 || sum.Rows != 95 || sum.Outcomes[Created] != 95 {
		t.Fatalf("%d results, summary %+v\n%s", len(got), sum, outcomes(got))
	}
	for i, r := range got {
		if r.Line != i+2 || r.RegistrationID != es[i].RegistrationID || r.Outcome != Created {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	if n := f.count("bulk create 10"); n != 9 {
		t.Errorf("%d full bulk calls, want 9", n)
	}
	if n := f.count("bulk create 5"); n != 1 {
		t.Errorf("%d calls for the last five, want 1", n)
	}
	if m := f.maxIn.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d calls in flight, want 2 or 3 (concurrency 3)", m)
	}
	if sum.Requests != 10 {
		t.Errorf("%d requests", sum.Requests)
	}
}

func TestModes(t *testing.T) {
	ek1, ek2 := enrollfiletest.NewEK(), enrollfiletest.NewEK()
	const key1, key2 = "MDEyMzQ1Njc4OWFiY2RlZg==", "ZmVkY2JhOTg3NjU0MzIxMA=="
	seed := []*model.IndividualEnrollment{
		symmetric("same"),
		symmetric("same-keys", key1, key2),
		symmetric("other-keys", key1, key2),
		tpmEnrollment("tpm-same", ek1),
		tpmEnrollment("tpm-other", ek1),
		func() *model.IndividualEnrollment {
			e := symmetric("other-fields")
			e.ProvisioningStatus = "disabled"
			e.IoTHubs = []string{"h1.example"}
			return e
		}(),
	}
	withHub := symmetric("other-fields")
	withHub.IoTHubs = []string{"H1.example", "h2.example"}
	withHub.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"a":1}`)}
	file := []*model.IndividualEnrollment{
		symmetric("new"),
		symmetric("same"),
		symmetric("same-keys", key1), // keys not given compare equal
		symmetric("other-keys", key2),
		tpmEnrollment("tpm-same", ek1),
		tpmEnrollment("tpm-other", ek2),
		withHub,
	}
	tests := []struct {
		mode Mode
		want string
	}{
		{ModeCreate, `2 new created
3 same unchanged
4 same-keys unchanged
5 other-keys failed conflict (an enrollment with this ID exists and differs in attestation.symmetricKey.primaryKey (use --mode upsert to update it))
6 tpm-same unchanged
7 tpm-other failed conflict (an enrollment with this ID exists and differs in attestation.tpm.endorsementKey (use --mode upsert to update it))
8 other-fields failed conflict (an enrollment with this ID exists and differs in iotHubs, provisioningStatus, initialTwin.tags (use --mode upsert to update it))
`},
		{ModeUpsert, `2 new created
3 same unchanged
4 same-keys unchanged
5 other-keys updated
6 tpm-same unchanged
7 tpm-other updated
8 other-fields updated
`},
		{ModeUpdate, `2 new failed 404201 (the enrollment does not exist (update mode changes only existing enrollments))
3 same unchanged
4 same-keys unchanged
5 other-keys updated
6 tpm-same unchanged
7 tpm-other updated
8 other-fields updated
`},
		{ModeDelete, `2 new unchanged (did not exist)
3 same deleted
4 same-keys deleted
5 other-keys deleted
6 tpm-same deleted
7 tpm-other deleted
8 other-fields deleted
`},
	}
	encodings := []struct {
		name  string
		items func(...*model.IndividualEnrollment) iter.Seq[Item]
	}{{"enrollments", itemsOf}, {"json", itemsJSONOf}}
	for _, tt := range tests {
		for _, enc := range encodings {
			t.Run(string(tt.mode)+"/"+enc.name, func(t *testing.T) {
				c := newService(t)
				ctx := context.Background()
				if _, sum := collect(t, c, Options{}, itemsOf(seed...)); sum.Outcomes[Created] != len(seed) {
					t.Fatalf("seeding: %+v", sum)
				}
				before, _ := c.GetEnrollment(ctx, "same")
				got, _ := collect(t, c, Options{Mode: tt.mode}, enc.items(file...))
				if s := outcomes(got); s != tt.want {
					t.Fatalf("got\n%s\nwant\n%s", s, tt.want)
				}
				switch tt.mode {
				case ModeUpsert, ModeUpdate:
					// Unchanged enrollments are not written again.
					after, _ := c.GetEnrollment(ctx, "same")
					if after.ETag != before.ETag {
						t.Error("an unchanged enrollment was rewritten")
					}
					// Updated ones carry what the file says; keys the file
					// did not give are kept.
					a, _ := c.GetEnrollmentAttestation(ctx, "other-keys")
					if a.SymmetricKey.PrimaryKey != key2 || a.SymmetricKey.SecondaryKey != key2 {
						t.Errorf("keys after update: %+v", a.SymmetricKey)
					}
					e, _ := c.GetEnrollment(ctx, "other-fields")
					if len(e.IoTHubs) != 2 || e.ProvisioningStatus != "enabled" {
						t.Errorf("other-fields after update: %+v", e)
					}
				case ModeDelete:
					if _, err := c.GetEnrollment(ctx, "same"); !dps.IsNotFound(err) {
						t.Errorf("not deleted: %v", err)
					}
				}
			})
		}
	}
}

// An update from a file keeps the members of the enrollment dpsctl does
// not model (those of a newer API version): the file cannot name them.
func TestUpdateKeepsUnknownMembers(t *testing.T) {
	for _, mode := range []Mode{ModeUpsert, ModeUpdate} {
		t.Run(string(mode), func(t *testing.T) {
			const key1, key2 = "MDEyMzQ1Njc4OWFiY2RlZg==", "ZmVkY2JhOTg3NjU0MzIxMA=="
			c := newService(t)
			ctx := context.Background()
			held := symmetric("dev", key1)
			held.Unknown = model.Unknown{{Key: []byte(`"credentialPolicyName"`), Value: []byte(`"policy-a"`)}}
			held.Attestation.Unknown = model.Unknown{{Key: []byte(`"keyRotation"`), Value: []byte(`{"days":30}`)}}
			if _, err := c.PutEnrollment(ctx, held, ""); err != nil {
				t.Fatal(err)
			}
			want := symmetric("dev", key2)
			want.DeviceID = "from-file"
			got, _ := collect(t, c, Options{Mode: mode}, itemsOf(want))
			if got[0].Outcome != Updated {
				t.Fatalf("%s", outcomes(got))
			}
			e, _ := c.GetEnrollment(ctx, "dev")
			if e.DeviceID != "from-file" || string(e.Unknown.Lookup("credentialPolicyName")) != `"policy-a"` || len(e.Unknown) != 1 {
				t.Errorf("after update: deviceId %q, members %q", e.DeviceID, e.Unknown)
			}
			a, _ := c.GetEnrollmentAttestation(ctx, "dev")
			if a.SymmetricKey.PrimaryKey != key2 || string(a.Unknown.Lookup("keyRotation")) != `{"days":30}` || len(a.Unknown) != 1 {
				t.Errorf("attestation after update: %+v", a)
			}
		})
	}
}

// TestEncodedItems: items given as JSON are sent as they are by a client
// that takes JSON, decoded and sent as enrollments by one that does not,
// and a broken one fails alone.
func TestEncodedItems(t *testing.T) {
	es := many(25, "enc")
	items := func(yield func(Item) bool) {
		for it := range itemsJSONOf(es...) {
			if it.Line == 9 {
				it.JSON = []byte(`{"registrationId":`)
			}
			if !yield(it) {
				return
			}
		}
	}
	for _, tc := range []struct {
		name string
		c    Client
	}{{"json client", &jsonCounting{JSONClient: newService(t)}}, {"plain client", &faulty{Client: newService(t)}}} {
		t.Run(tc.name, func(t *testing.T) {
			got, sum := collect(t, tc.c, Options{}, items)
			if sum.Outcomes[Created] != 24 || sum.Failed() != 1 {
				t.Fatalf("%+v\n%s", sum, outcomes(got))
			}
			// The plain client cannot decode it; the service refuses it
			// (its batch is then retried item by item).
			wantCode := CodeInvalid
			if _, ok := tc.c.(*jsonCounting); ok {
				wantCode = "400000"
			}
			if r := got[7]; r.Line != 9 || r.Outcome != Failed || r.ErrorCode != wantCode || r.RegistrationID != "enc-0007" {
				t.Fatalf("broken row: %+v", r)
			}
			switch c := tc.c.(type) {
			case *jsonCounting:
				// Batches without the broken row go out as JSON.
				if n := c.calls.Load(); n < 2 {
					t.Fatalf("%d JSON bulk calls", n)
				}
			case *faulty:
				if n := c.count("bulk create"); n != 3 {
					t.Fatalf("%d bulk creates, want 3", n)
				}
			}
			// A second run finds every written enrollment unchanged.
			got, sum = collect(t, tc.c, Options{}, items)
			if sum.Outcomes[Unchanged] != 24 || sum.Failed() != 1 {
				t.Fatalf("re-run: %+v\n%s", sum, outcomes(got))
			}
		})
	}
}

// jsonCounting counts the JSON bulk calls of a JSONClient.
type jsonCounting struct {
	JSONClient
	calls atomic.Int32
}

func (j *jsonCounting) BulkEnrollmentsJSON(ctx context.Context, mode string, items [][]byte) (*model.BulkEnrollmentOperationResult, error) {
	j.calls.Add(1)
	return j.JSONClient.BulkEnrollmentsJSON(ctx, mode, items)
}

// TestRerunIsIdempotent: a second run of the same import writes nothing.
func TestRerunIsIdempotent(t *testing.T) {
	f := &faulty{Client: newService(t)}
	es := many(30, "dev")
	collect(t, f, Options{}, itemsOf(es...))
	got, sum := collect(t, f, Options{}, itemsOf(es...))
	if sum.Outcomes[Unchanged] != 30 || sum.Failed() != 0 {
		t.Fatalf("%+v\n%s", sum, outcomes(got))
	}
	if n := f.count("bulk update"); n != 0 {
		t.Errorf("%d update calls on a re-run", n)
	}
}

func dpsError(status, code int) error {
	return &dps.Error{StatusCode: status, ErrorCode: code, Message: http.StatusText(status), Method: "POST", Path: "/enrollments"}
}

func TestTransientFailures(t *testing.T) {
	netErr := &url.Error{Op: "Post", URL: "https://localhost/enrollments", Err: errors.New("connection refused")}
	tests := []struct {
		name     string
		inject   func(call string, n int) error
		attempts int
		want     func(t *testing.T, got []Result, sum Summary)
	}{
		{"throttled twice, then through", func(call string, n int) error {
			if call == "bulk create 10" && n <= 2 {
				return dpsError(429, 429001)
			}
			return nil
		}, 0, func(t *testing.T, got []Result, sum Summary) {
			if sum.Outcomes[Created] != 20 || sum.Throttled != 2 || sum.Retries != 2 || sum.Stopped != nil {
				t.Fatalf("%+v", sum)
			}
		}},
		{"a 503 and a network error are retried", func(call string, n int) error {
			switch {
			case call == "bulk create 10" && n == 1:
				return dpsError(503, 503000)
			case call == "bulk create 10" && n == 2:
				return netErr
			}
			return nil
		}, 0, func(t *testing.T, got []Result, sum Summary) {
			if sum.Outcomes[Created] != 20 || sum.Retries != 2 {
				t.Fatalf("%+v", sum)
			}
		}},
		{"an unreachable service stops the import", func(call string, n int) error { return netErr }, 3,
			func(t *testing.T, got []Result, sum Summary) {
				if sum.Stopped == nil || !strings.Contains(sum.Stopped.Error(), "the service kept failing (3 attempts)") {
					t.Fatalf("stopped: %v", sum.Stopped)
				}
				if sum.Failed() != 20 || len(got) != 20 {
					t.Fatalf("%+v", sum)
				}
				for _, r := range got {
					switch r.ErrorCode {
					case CodeUnavailable, CodeNotAttempted, CodeInterrupted:
					default:
						t.Errorf("row %d: code %q (%s)", r.Line, r.ErrorCode, r.Message)
					}
				}
			}},
		{"unauthorized stops at once", func(call string, n int) error { return dpsError(401, 401002) }, 0,
			func(t *testing.T, got []Result, sum Summary) {
				if sum.Stopped == nil || sum.Requests > 2 || got[0].ErrorCode != "401002" {
					t.Fatalf("%+v %+v", sum, got[0])
				}
			}},
		{"a batch refused whole is split into single items", func(call string, n int) error {
			if call == "bulk create 10" {
				return dpsError(400, 400000)
			}
			return nil
		}, 0, func(t *testing.T, got []Result, sum Summary) {
			if sum.Outcomes[Created] != 20 || sum.Requests != 22 {
				t.Fatalf("%+v", sum)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &faulty{Client: newService(t), inject: tt.inject}
			got, sum := collect(t, f, Options{Concurrency: 1, Attempts: tt.attempts}, itemsOf(many(20, "dev")...))
			tt.want(t, got, sum)
		})
	}
}

func TestInvalidItemsAndItemErrors(t *testing.T) {
	c := newService(t)
	bad := symmetric("bad-key", "bm90IGEga2V5")
	items := func(yield func(Item) bool) {
		_ = yield(Item{Line: 2, ID: "broken", Err: errors.New("certificate: cannot read x.pem")}) &&
			yield(Item{Line: 3, Enrollment: symmetric("fine")}) &&
			yield(Item{Line: 4, Enrollment: bad})
	}
	got, sum := collect(t, c, Options{}, items)
	want := "2 broken failed invalid (certificate: cannot read x.pem)\n3 fine created\n4 bad-key failed 400000 (attestation.symmetricKey.primaryKey: key decodes to 9 bytes; it must be 16 to 64 bytes)\n"
	if s := outcomes(got); s != want || sum.Failed() != 2 {
		t.Fatalf("got\n%s", s)
	}
}

func TestPreconditionFailedIsReadAgain(t *testing.T) {
	base := newService(t)
	ctx := context.Background()
	collect(t, base, Options{}, itemsOf(symmetric("dev")))
	// Someone changes the enrollment between the import's read and write,
	// once.
	f := &faulty{Client: base}
	f.inject = func(call string, n int) error {
		if call == "bulk updateIfMatchETag 1" && n == 1 {
			e, _ := base.GetEnrollment(ctx, "dev")
			e.DeviceID = "changed-meanwhile"
			if _, err := base.PutEnrollment(ctx, e, "*"); err != nil {
				return err
			}
		}
		return nil
	}
	want := symmetric("dev")
	want.DeviceID = "from-file"
	got, _ := collect(t, f, Options{Mode: ModeUpsert}, itemsOf(want))
	if got[0].Outcome != Updated || f.count("bulk updateIfMatchETag") != 2 || f.count("get dev") != 2 {
		t.Fatalf("%s calls %q", outcomes(got), f.calls)
	}
	e, _ := base.GetEnrollment(ctx, "dev")
	if e.DeviceID != "from-file" {
		t.Fatalf("deviceId %q", e.DeviceID)
	}
}

func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(0, 0)
	var slept time.Duration
	opts := Options{
		Rate:        600, // one call per 100 ms
		Concurrency: 2,
		Now:         func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept += d
			now = now.Add(d)
			return nil
		},
	}
	_, sum := collect(t, newService(t), opts, itemsOf(many(50, "dev")...))
	if sum.Requests != 5 {
		t.Fatalf("%d requests", sum.Requests)
	}
	// Five calls at 100 ms spacing span 400 ms of the fake clock.
	if now.Sub(time.Unix(0, 0)) != 400*time.Millisecond {
		t.Fatalf("the clock moved %v (slept %v), want 400ms", now.Sub(time.Unix(0, 0)), slept)
	}
}

func TestCancelReportsEveryItem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &faulty{Client: newService(t)}
	f.inject = func(call string, n int) error {
		if n == 3 {
			cancel()
		}
		return nil
	}
	var got []Result
	sum, err := Run(ctx, f, itemsOf(many(100, "dev")...), Options{Concurrency: 1}, func(r Result) error {
		got = append(got, r)
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 100 || sum.Rows != 100 {
		t.Fatalf("err %v, %d results", err, len(got))
	}
	if sum.Outcomes[Created] < 20 || sum.Outcomes[Failed] < 50 {
		t.Fatalf("%+v", sum)
	}
}

func TestEmitErrorStops(t *testing.T) {
	boom := errors.New("disk full")
	n := 0
	_, err := Run(context.Background(), newService(t), itemsOf(many(200, "dev")...), Options{}, func(Result) error {
		n++
		if n == 15 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
}

func TestDiff(t *testing.T) {
	ek := enrollfiletest.NewEK()
	base := func() *model.IndividualEnrollment { return tpmEnrollment("d", ek) }
	tests := []struct {
		name       string
		want, have func(*model.IndividualEnrollment)
		keys       *model.SymmetricKeyAttestation
		diff       string
	}{
		{"same", nil, nil, nil, ""},
		{"server-filled fields and defaults are ignored", nil, func(e *model.IndividualEnrollment) {
			e.ETag, e.CreatedDateTimeUTC, e.LastUpdatedDateTimeUTC = "x", "t", "t"
			e.ProvisioningStatus = "enabled"
			e.ReprovisionPolicy = &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}
			e.Capabilities = &model.DeviceCapabilities{}
			e.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{}`)}
			e.RegistrationState = &model.DeviceRegistrationState{Status: "assigned"}
		}, nil, ""},
		{"JSON compared by value, hubs as a set", func(e *model.IndividualEnrollment) {
			e.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"a":1,"b":[1,2]}`)}
			e.IoTHubs = []string{"b.example", "a.example"}
		}, func(e *model.IndividualEnrollment) {
			e.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{ "b":[1,2], "a":1.0e0 }`)}
			e.IoTHubs = []string{"A.example", "b.example"}
		}, nil, "initialTwin.tags"}, // 1 and 1.0e0 are different JSON numbers as written
		{"every field", func(e *model.IndividualEnrollment) {
			e.DeviceID = "x"
			e.AllocationPolicy = "custom"
			e.CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: "https://a", APIVersion: "1"}
			e.ProvisioningStatus = "disabled"
			e.ReprovisionPolicy = &model.ReprovisionPolicy{}
			e.Capabilities = &model.DeviceCapabilities{IoTEdge: true}
			e.InitialTwin = &model.InitialTwin{Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"x":1}`)}}
		}, nil, nil, "deviceId allocationPolicy customAllocationDefinition provisioningStatus reprovisionPolicy capabilities.iotEdge initialTwin.properties.desired"},
		{"attestation type", nil, func(e *model.IndividualEnrollment) { *e = *symmetric("d") }, nil, "attestation.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h := base(), base()
			if tt.want != nil {
				tt.want(w)
			}
			if tt.have != nil {
				tt.have(h)
			}
			if got := strings.Join(Diff(w, h, tt.keys), " "); got != tt.diff {
				t.Fatalf("got %q, want %q", got, tt.diff)
			}
		})
	}
}
