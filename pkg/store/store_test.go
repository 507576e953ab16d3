package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enr(id, etag string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{
		RegistrationID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ETag:        etag,
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: "cHJpbWFyeQ=="}},
		},
	}
}

func TestOpenCreatesSchemaAndFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", v, err, SchemaVersion)
	}
	var mode string
	if err := s.r.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.r.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	var bt int
	if err := s.w.QueryRow("PRAGMA busy_timeout").Scan(&bt); err != nil || bt != busyTimeoutMS {
		t.Fatalf("busy_timeout = %d, %v", bt, err)
	}
	if err := s.SetMeta(context.Background(), MetaIDScope, "0ne00000001"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
	// A second open keeps the data and does not migrate again.
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Meta(context.Background(), MetaIDScope); err != nil || v != "0ne00000001" {
		t.Fatalf("meta after reopen = %q, %v", v, err)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

func TestPutPreconditions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		existing string // etag of an existing entity, "" for none
		ifMatch  string
		wantErr  error
	}{
		{name: "create new", ifMatch: "", wantErr: nil},
		{name: "create over existing", existing: "e1", ifMatch: "", wantErr: ErrExists},
		{name: "wildcard creates", ifMatch: MatchAny},
		{name: "wildcard replaces", existing: "e1", ifMatch: MatchAny},
		{name: "etag matches", existing: "e1", ifMatch: "e1"},
		{name: "etag stale", existing: "e1", ifMatch: "e0", wantErr: ErrETagMismatch},
		{name: "etag on missing", ifMatch: "e1", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			if tt.existing != "" {
				if err := s.PutEnrollment(ctx, enr("Dev-1", tt.existing), ""); err != nil {
					t.Fatal(err)
				}
			}
			err := s.PutEnrollment(ctx, enr("dev-1", "e2"), tt.ifMatch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got, gerr := s.Enrollment(ctx, "DEV-1")
			switch {
			case tt.wantErr == nil && (gerr != nil || got.ETag != "e2" || got.RegistrationID != "dev-1"):
				t.Fatalf("after put: %+v, %v", got, gerr)
			case tt.wantErr != nil && tt.existing != "" && (gerr != nil || got.ETag != tt.existing):
				t.Fatalf("failed put changed the entity: %+v, %v", got, gerr)
			case tt.wantErr != nil && tt.existing == "" && !errors.Is(gerr, ErrNotFound):
				t.Fatalf("failed put created the entity: %+v, %v", got, gerr)
			}
		})
	}
}

func TestDeletePreconditions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		exists  bool
		ifMatch string
		wantErr error
	}{
		{name: "unconditional", exists: true},
		{name: "wildcard", exists: true, ifMatch: MatchAny},
		{name: "matching etag", exists: true, ifMatch: "e1"},
		{name: "stale etag", exists: true, ifMatch: "e0", wantErr: ErrETagMismatch},
		{name: "missing", wantErr: ErrNotFound},
		{name: "missing with etag", ifMatch: "e1", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			if tt.exists {
				if err := s.PutEnrollmentGroup(ctx, &model.EnrollmentGroup{EnrollmentGroupID: "g1", EnrollmentCommon: model.EnrollmentCommon{ETag: "e1"}}, ""); err != nil {
					t.Fatal(err)
				}
			}
			err := s.DeleteEnrollmentGroup(ctx, "G1", tt.ifMatch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			_, gerr := s.EnrollmentGroup(ctx, "g1")
			if deleted := errors.Is(gerr, ErrNotFound); deleted != (tt.wantErr == nil || !tt.exists) {
				t.Fatalf("deleted = %v after err %v", deleted, err)
			}
		})
	}
}

func TestRoundTripKeepsSecrets(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	in := &model.EnrollmentGroup{
		EnrollmentGroupID: "grp",
		EnrollmentCommon: model.EnrollmentCommon{
			ETag: "x",
			Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
				SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: "-----BEGIN CERTIFICATE-----", Info: &model.X509CertificateInfo{SubjectName: "CN=x"}}},
			}},
			InitialTwin: &model.InitialTwin{Tags: []byte(`{"version":1}`)},
		},
	}
	if err := s.PutEnrollmentGroup(ctx, in, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.EnrollmentGroup(ctx, "GRP")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Attestation.X509.SigningCertificates.Primary; c.Certificate != "-----BEGIN CERTIFICATE-----" || c.Info.SubjectName != "CN=x" {
		t.Fatalf("certificate not kept: %+v", c)
	}
	if string(got.InitialTwin.Tags) != `{"version":1}` {
		t.Fatalf("tags = %s", got.InitialTwin.Tags)
	}
}

func TestPagingIsStableAcrossUpdatesAndDeletes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const n = 250
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range n {
			if err := tx.PutEnrollment(enr(fmt.Sprintf("dev-%03d", i), "e"), ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.CountEnrollments(ctx); err != nil || c != n {
		t.Fatalf("count = %d, %v", c, err)
	}
	// Replacing an early item must not move it to the end.
	if err := s.PutEnrollment(ctx, enr("DEV-000", "e2"), MatchAny); err != nil {
		t.Fatal(err)
	}
	var got []string
	var after int64
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		p, err := s.ListEnrollments(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Items {
			got = append(got, e.RegistrationID)
		}
		if pages == 0 {
			// Deleting an item already listed must not disturb the next pages.
			if err := s.DeleteEnrollment(ctx, "dev-050", ""); err != nil {
				t.Fatal(err)
			}
		}
		if p.Next == 0 {
			if len(p.Items) != 50 {
				t.Fatalf("last page has %d items", len(p.Items))
			}
			break
		}
		if len(p.Items) != 100 {
			t.Fatalf("page %d has %d items", pages, len(p.Items))
		}
		after = p.Next
	}
	if len(got) != n {
		t.Fatalf("listed %d items, want %d", len(got), n)
	}
	if got[0] != "DEV-000" {
		t.Fatalf("first item %q, want the replaced DEV-000 in place", got[0])
	}
	for i := 1; i < n; i++ {
		if want := fmt.Sprintf("dev-%03d", i); got[i] != want {
			t.Fatalf("item %d = %q, want %q", i, got[i], want)
		}
	}
}

func TestListRejectsBadLimit(t *testing.T) {
	s := openTest(t)
	if _, err := s.ListEnrollments(context.Background(), 0, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func TestRegistrationsByGroup(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	put := func(id, group string) {
		t.Helper()
		r := &Registration{State: model.DeviceRegistrationState{RegistrationID: id, Status: model.RegAssigned, ETag: "r"}, EnrollmentGroupID: group}
		if err := s.PutRegistration(ctx, r, MatchAny); err != nil {
			t.Fatal(err)
		}
	}
	put("a1", "Group-A")
	put("b1", "group-b")
	put("a2", "group-a")
	put("solo", "")
	tests := []struct {
		group string
		want  []string
	}{
		{"group-a", []string{"a1", "a2"}},
		{"GROUP-B", []string{"b1"}},
		{"none", nil},
		{"", []string{"a1", "b1", "a2", "solo"}},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			p, err := s.ListRegistrations(ctx, tt.group, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range p.Items {
				ids = append(ids, r.State.RegistrationID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) || p.Next != 0 {
				t.Fatalf("got %v next %d, want %v", ids, p.Next, tt.want)
			}
		})
	}
	r, err := s.Registration(ctx, "A1")
	if err != nil || r.EnrollmentGroupID != "Group-A" || r.State.Status != model.RegAssigned {
		t.Fatalf("registration = %+v, %v", r, err)
	}
	if err := s.DeleteRegistration(ctx, "a1", "stale"); !errors.Is(err, ErrETagMismatch) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.DeleteRegistration(ctx, "a1", "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Registration(ctx, "a1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutEnrollment(enr("a", "e"), ""); err != nil {
			return err
		}
		if _, err := tx.Enrollment("A"); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Enrollment(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled back write is visible: %v", err)
	}
}

func TestUpdateReleasesTheWriterAfterAPanic(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		s.Update(ctx, func(tx *Tx) error {
			tx.PutEnrollment(enr("p", "e"), "")
			panic("bug")
		})
	}()
	// The single writer connection is free again and nothing was written.
	if err := s.PutEnrollment(ctx, enr("q", "e"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrollment(ctx, "p"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("write of the panicking transaction is visible: %v", err)
	}
}

func TestPoliciesAndMetaAndHubs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.Meta(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing meta: %v", err)
	}
	owner := Policy{Name: "provisioningserviceowner", PrimaryKey: "cA==", SecondaryKey: "cw==", Rights: []string{"EnrollmentRead", "EnrollmentWrite"}}
	read := Policy{Name: "enrollmentread", PrimaryKey: "cg==", SecondaryKey: "cw==", Rights: []string{"EnrollmentRead"}}
	for _, p := range []Policy{owner, read} {
		if err := s.PutPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Policy(ctx, "ProvisioningServiceOwner")
	if err != nil || got.PrimaryKey != "cA==" || !got.HasRight("enrollmentwrite") || got.HasRight("ServiceConfig") {
		t.Fatalf("policy = %+v, %v", got, err)
	}
	owner.PrimaryKey = "bmV3"
	if err := s.PutPolicy(ctx, owner); err != nil {
		t.Fatal(err)
	}
	all, err := s.Policies(ctx)
	if err != nil || len(all) != 2 || all[0].Name != owner.Name || all[0].PrimaryKey != "bmV3" {
		t.Fatalf("policies = %+v, %v", all, err)
	}
	if err := s.DeletePolicy(ctx, "enrollmentread"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(ctx, "enrollmentread"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	h := LinkedHub{HostName: "hub.azure-devices.net", ConnectionString: "HostName=hub.azure-devices.net;SharedAccessKeyName=o;SharedAccessKey=a2V5", AllocationWeight: 2, ApplyAllocationPolicy: true}
	if err := s.PutLinkedHub(ctx, h); err != nil {
		t.Fatal(err)
	}
	hs, err := s.LinkedHubs(ctx)
	if err != nil || len(hs) != 1 || hs[0] != h {
		t.Fatalf("hubs = %+v, %v", hs, err)
	}
	if err := s.DeleteLinkedHub(ctx, "HUB.azure-devices.net"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLinkedHub(ctx, "hub.azure-devices.net"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// Two Stores on one file (as a running service and a CLI process would
// have) write concurrently without busy errors and see each other's data.
func TestTwoStoresShareOneFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const perWorker = 50
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				err := s.Update(ctx, func(tx *Tx) error {
					for j := range 3 {
						if err := tx.PutEnrollment(enr(fmt.Sprintf("w%d-%d-%d", w, i, j), "e"), ""); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.ListEnrollments(ctx, 0, 10); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		if n, err := s.CountEnrollments(ctx); err != nil || n != 4*perWorker*3 {
			t.Fatalf("count = %d, %v", n, err)
		}
	}
	if _, err := b.Enrollment(ctx, "w0-0-0"); err != nil {
		t.Fatalf("b does not see a's write: %v", err)
	}
}

// BenchmarkBulkInsert writes enrollments ten per transaction, as bulk calls do.
func BenchmarkBulkInsert(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	e := enr("x", "ImV0YWci")
	e.Attestation.SymmetricKey.SecondaryKey = "c2Vjb25kYXJ5"
	e.CreatedDateTimeUTC = "2025-01-01T00:00:00.0000000Z"
	e.LastUpdatedDateTimeUTC = e.CreatedDateTimeUTC
	e.ProvisioningStatus = model.StatusEnabled
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		err := s.Update(ctx, func(tx *Tx) error {
			for range 10 {
				c := *e
				c.RegistrationID = fmt.Sprintf("device-%08d", n)
				n++
				if err := tx.PutEnrollment(&c, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/enrollment")
}
