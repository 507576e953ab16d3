package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func symGroup(id string, keys ...string) *model.EnrollmentGroup {
	k := &model.SymmetricKeyAttestation{}
	if len(keys) > 0 {
		k.PrimaryKey = keys[0]
	}
	return &model.EnrollmentGroup{EnrollmentGroupID: id, EnrollmentCommon: model.EnrollmentCommon{
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: k},
	}}
}

// groupItems yields the groups as items, every other one as its JSON (as
// the spool gives them).
func groupItems(gs ...*model.EnrollmentGroup) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for i, g := range gs {
			it := Item{Line: i + 2}
			if i%2 == 0 {
				c := *g
				it.Group = &c
			} else {
				it.ID = g.EnrollmentGroupID
				it.JSON, _ = json.Marshal(g)
			}
			if !yield(it) {
				return
			}
		}
	}
}

func collectGroups(t *testing.T, c GroupClient, opts Options, items iter.Seq[Item]) ([]Result, Summary) {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	var got []Result
	sum, err := RunGroups(context.Background(), c, items, opts, func(r Result) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("RunGroups: %v", err)
	}
	return got, sum
}

// TestGroupModes runs every mode over the same groups, in order, against
// one service: each run starts from what the one before left.
func TestGroupModes(t *testing.T) {
	c := newService(t)
	ctx := context.Background()
	k1 := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	k2 := "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="
	tests := []struct {
		name   string
		mode   Mode
		groups []*model.EnrollmentGroup
		want   string
	}{
		{"create", ModeCreate, []*model.EnrollmentGroup{symGroup("g-a", k1), symGroup("g-b")},
			"2 g-a created\n3 g-b created\n"},
		{"create again is unchanged: an interrupted import resumes", ModeCreate, []*model.EnrollmentGroup{symGroup("g-a", k1), symGroup("g-b"), symGroup("g-c")},
			"2 g-a unchanged\n3 g-b unchanged\n4 g-c created\n"},
		{"create finds a different group: conflict", ModeCreate, []*model.EnrollmentGroup{symGroup("g-a", k2)},
			"2 g-a failed conflict (an enrollment group with this ID exists and differs in attestation.symmetricKey.primaryKey (use --mode upsert to update it))\n"},
		{"upsert updates it", ModeUpsert, []*model.EnrollmentGroup{symGroup("g-a", k2), symGroup("g-d")},
			"2 g-a updated\n3 g-d created\n"},
		{"update of a missing group fails", ModeUpdate, []*model.EnrollmentGroup{symGroup("g-a", k1), symGroup("g-x")},
			"2 g-a updated\n3 g-x failed 404204 (the enrollment group does not exist (update mode changes only existing groups))\n"},
		{"delete", ModeDelete, []*model.EnrollmentGroup{symGroup("g-b"), symGroup("g-x")},
			"2 g-b deleted\n3 g-x unchanged (did not exist)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sum := collectGroups(t, c, Options{Mode: tt.mode}, groupItems(tt.groups...))
			if o := outcomes(got); o != tt.want {
				t.Fatalf("got\n%swant\n%s", o, tt.want)
			}
			if sum.Rows != len(tt.groups) {
				t.Fatalf("summary %+v", sum)
			}
		})
	}
	// The update kept the key the file gave, and upsert left g-b's own.
	a, err := c.GetGroupAttestation(ctx, "g-a")
	if err != nil || a.SymmetricKey.PrimaryKey != k1 {
		t.Fatalf("g-a: %+v, %v", a, err)
	}
	if _, err := c.GetGroup(ctx, "g-b"); !dps.IsNotFound(err) {
		t.Fatalf("g-b after delete: %v", err)
	}
}

// throttling is a GroupClient that answers 429 with Retry-After to every
// third call.
type throttling struct {
	GroupClient
	calls, refused atomic.Int32
}

func (c *throttling) refuse() error {
	if c.calls.Add(1)%3 == 0 {
		c.refused.Add(1)
		return &dps.Error{StatusCode: http.StatusTooManyRequests, ErrorCode: 429001, RetryAfter: 2 * time.Second}
	}
	return nil
}

func (c *throttling) PutGroup(ctx context.Context, g *model.EnrollmentGroup, ifMatch string) (*model.EnrollmentGroup, error) {
	if err := c.refuse(); err != nil {
		return nil, err
	}
	return c.GroupClient.PutGroup(ctx, g, ifMatch)
}

func TestGroupThrottledCallsAreRetriedAfterRetryAfter(t *testing.T) {
	c := &throttling{GroupClient: newService(t)}
	var slept atomic.Int64
	var groups []*model.EnrollmentGroup
	for i := range 30 {
		groups = append(groups, symGroup(fmt.Sprintf("g-%02d", i)))
	}
	got, sum := collectGroups(t, c, Options{Concurrency: 4, Sleep: func(ctx context.Context, d time.Duration) error {
		if d == 2*time.Second { // Retry-After; the pacing waits are shorter or longer
			slept.Add(1)
		}
		return ctx.Err()
	}}, groupItems(groups...))
	if sum.Outcomes[Created] != 30 || sum.Failed() != 0 {
		t.Fatalf("%s", outcomes(got))
	}
	if sum.Throttled != int64(c.refused.Load()) || sum.Throttled == 0 || sum.Retries != sum.Throttled {
		t.Fatalf("summary %+v; the client refused %d calls", sum, c.refused.Load())
	}
	if slept.Load() != sum.Throttled {
		t.Fatalf("waited Retry-After (2s) %d times after %d throttled calls; want once each", slept.Load(), sum.Throttled)
	}
}

func TestGroupInvalidItems(t *testing.T) {
	c := newService(t)
	items := func(yield func(Item) bool) {
		_ = yield(Item{Line: 2, ID: "bad", Err: fmt.Errorf("g.csv:2: attestation: required")}) &&
			yield(Item{Line: 3, ID: "none"}) &&
			yield(Item{Line: 4, ID: "broken", JSON: []byte(`{"enrollmentGroupId":`)})
	}
	got, _ := collectGroups(t, c, Options{}, items)
	o := outcomes(got)
	for _, want := range []string{"2 bad failed invalid (g.csv:2: attestation: required)", "3 none failed invalid (no enrollment)", "4 broken failed invalid (decoding the enrollment group"} {
		if !strings.Contains(o, want) {
			t.Errorf("missing %q in\n%s", want, o)
		}
	}
}

func TestDiffGroups(t *testing.T) {
	a, b := symGroup("g"), symGroup("g")
	if d := DiffEntity(a, b, nil); len(d) != 0 {
		t.Fatalf("same groups differ in %v", d)
	}
	b.IoTHubs = []string{"h.example"}
	b.ProvisioningStatus = model.StatusDisabled
	if d := strings.Join(DiffEntity(a, b, nil), " "); d != "iotHubs provisioningStatus" {
		t.Fatalf("diff %q", d)
	}
	x := func(thumb string) *model.EnrollmentGroup {
		return &model.EnrollmentGroup{EnrollmentGroupID: "x", EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{
			Type: model.AttestationX509, X509: &model.X509Attestation{SigningCertificates: &model.X509Certificates{
				Primary: &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{SHA256Thumbprint: thumb}}}}}}}
	}
	if d := strings.Join(DiffEntity(x("AB"), x("CD"), nil), " "); d != "attestation.x509.signingCertificates.primary" {
		t.Fatalf("diff %q", d)
	}
	if d := DiffEntity(x("ab"), x("AB"), nil); len(d) != 0 {
		t.Fatalf("thumbprints compare ignoring case; diff %v", d)
	}
}

// TestGroupFile checks a file of groups and imports it: problems name the
// group columns, and the spooled groups are written.
func TestGroupFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "enrollmentGroupId,attestation\ng-1,symmetricKey\nG-1,symmetricKey\ng-2,tpm\n")
	in, err := OpenInput(bad, InputOptions{Kind: model.KindGroup})
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	checked, err := Check(context.Background(), in, CheckOptions{Problem: func(p Problem) error {
		for _, e := range p.Errs {
			problems = append(problems, e.Error())
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	checked.Close()
	want := []string{
		bad + ":4: attestation: an enrollment group takes x509 or symmetricKey attestation; TPM devices are enrolled one by one",
		bad + `:3: enrollmentGroupId: "G-1" is a duplicate of line 2 (IDs compare ignoring case)`,
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") || checked.Bad != 2 {
		t.Fatalf("problems:\n%s\nwant\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}

	good := write("good.jsonl", `{"enrollmentGroupId":"g-1","attestation":"symmetricKey","provisioningStatus":"disabled"}`+"\n"+
		`{"enrollmentGroupId":"g-2","attestation":"symmetricKey","iotEdge":true}`+"\n")
	in, err = OpenInput(good, InputOptions{Kind: model.KindGroup})
	if err != nil {
		t.Fatal(err)
	}
	checked, err = Check(context.Background(), in, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer checked.Close()
	items, err := checked.Items(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := newService(t)
	got, _ := collectGroups(t, c, Options{}, items)
	if o := outcomes(got); o != "1 g-1 created\n2 g-2 created\n" {
		t.Fatalf("%s", o)
	}
	g, err := c.GetGroup(context.Background(), "g-2")
	if err != nil || g.Capabilities == nil || !g.Capabilities.IoTEdge {
		t.Fatalf("g-2: %+v, %v", g, err)
	}
}
