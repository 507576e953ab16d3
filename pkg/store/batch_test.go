package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func encodedEnrollments(t testing.TB, ids ...string) []Encoded {
	t.Helper()
	rows := make([]Encoded, len(ids))
	for i, id := range ids {
		r, err := EncodeEnrollment(enr(id, fmt.Sprintf("etag-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = r
	}
	return rows
}

func seqIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ids
}

func TestInsertEnrollments(t *testing.T) {
	tests := []struct {
		name    string
		stored  []string // put before, one by one
		insert  []string
		created []bool
		count   int
	}{
		{name: "all new", insert: []string{"a", "b", "c"}, created: []bool{true, true, true}, count: 3},
		{name: "taken ids, any case", stored: []string{"dev-1", "Dev-3"}, insert: []string{"DEV-1", "dev-2", "dev-3"}, created: []bool{false, true, false}, count: 3},
		{name: "an id twice in one call", insert: []string{"x", "y", "X", "x"}, created: []bool{true, true, false, false}, count: 2},
		{name: "first of a repeated id taken", stored: []string{"x"}, insert: []string{"x", "X"}, created: []bool{false, false}, count: 1},
		{name: "more rows than one statement", stored: []string{"m-017"}, insert: seqIDs("m", 2*insertChunk+3),
			created: func() []bool {
				c := make([]bool, 2*insertChunk+3)
				for i := range c {
					c[i] = i != 17
				}
				return c
			}(), count: 2*insertChunk + 3},
		{name: "nothing", insert: nil, created: []bool{}, count: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t)
			for _, id := range tt.stored {
				if err := s.PutEnrollment(ctx, enr(id, "old"), ""); err != nil {
					t.Fatal(err)
				}
			}
			rows := encodedEnrollments(t, tt.insert...)
			var created []bool
			err := s.Update(ctx, func(tx *Tx) error {
				var err error
				created, err = tx.InsertEnrollments(rows)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(created) != fmt.Sprint(tt.created) {
				t.Fatalf("created = %v, want %v", created, tt.created)
			}
			if n, err := s.CountEnrollments(ctx); err != nil || n != tt.count {
				t.Fatalf("count = %d, %v; want %d", n, err, tt.count)
			}
			for i, id := range tt.insert {
				e, err := s.Enrollment(ctx, id)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if created[i] && (e.RegistrationID != id || e.ETag != rows[i].ETag) {
					t.Errorf("%s: stored %s etag %s, want the inserted row (etag %s)", id, e.RegistrationID, e.ETag, rows[i].ETag)
				}
				if !created[i] && e.ETag == rows[i].ETag {
					t.Errorf("%s: a refused row overwrote the stored enrollment", id)
				}
			}
		})
	}
}

func TestInsertEnrollmentsKeepsListingOrder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.PutEnrollment(ctx, enr("first", "e"), ""); err != nil {
		t.Fatal(err)
	}
	ids := seqIDs("batch", insertChunk+5)
	err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.InsertEnrollments(encodedEnrollments(t, ids...))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutEnrollment(ctx, enr("last", "e"), ""); err != nil {
		t.Fatal(err)
	}
	p, err := s.ListEnrollments(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{"first"}, ids...), "last")
	if len(p.Items) != len(want) {
		t.Fatalf("listed %d, want %d", len(p.Items), len(want))
	}
	for i, e := range p.Items {
		if e.RegistrationID != want[i] {
			t.Fatalf("item %d = %s, want %s", i, e.RegistrationID, want[i])
		}
	}
}

func TestInsertEnrollmentsRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.InsertEnrollments(encodedEnrollments(t, "a", "b")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := s.CountEnrollments(ctx); n != 0 {
		t.Fatalf("count after rollback = %d", n)
	}
	// A row written after an insert in the same transaction sees it.
	err = s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.InsertEnrollments(encodedEnrollments(t, "c")); err != nil {
			return err
		}
		return tx.PutEnrollment(enr("C", "x"), "")
	})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("put after insert of the same id: %v, want ErrExists", err)
	}
}

func TestInsertEnrollmentGroups(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := &model.EnrollmentGroup{EnrollmentGroupID: "g1", EnrollmentCommon: model.EnrollmentCommon{ETag: "e1", Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}}}
	if err := s.PutEnrollmentGroup(ctx, g, ""); err != nil {
		t.Fatal(err)
	}
	var rows []Encoded
	for _, id := range []string{"G1", "g2"} {
		r, err := EncodeEnrollmentGroup(&model.EnrollmentGroup{EnrollmentGroupID: id, EnrollmentCommon: model.EnrollmentCommon{ETag: "new", Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}}})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	var created []bool
	if err := s.Update(ctx, func(tx *Tx) (err error) { created, err = tx.InsertEnrollmentGroups(rows); return }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(created) != "[false true]" {
		t.Fatalf("created = %v", created)
	}
	if got, err := s.EnrollmentGroup(ctx, "g1"); err != nil || got.ETag != "e1" {
		t.Fatalf("g1 = %+v, %v; want the stored one", got, err)
	}
	if got, err := s.EnrollmentGroup(ctx, "G2"); err != nil || got.ETag != "new" {
		t.Fatalf("g2 = %+v, %v", got, err)
	}
}

func TestEncodeRequiresAnID(t *testing.T) {
	if _, err := EncodeEnrollment(&model.IndividualEnrollment{}); err == nil {
		t.Error("EncodeEnrollment accepted an enrollment without an id")
	}
	if _, err := EncodeEnrollmentGroup(&model.EnrollmentGroup{}); err == nil {
		t.Error("EncodeEnrollmentGroup accepted a group without an id")
	}
	s := openTest(t)
	err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.InsertEnrollments([]Encoded{{ID: "", Doc: []byte("{}")}})
		return err
	})
	if err == nil {
		t.Error("InsertEnrollments accepted a row without an id")
	}
}

// BenchmarkInsertEnrollments writes pre-encoded enrollments, ten per
// call and 64 calls per transaction, as the service's group commit of
// bulk creates does (compare BenchmarkBulkInsert).
func BenchmarkInsertEnrollments(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	e := enr("x", "ImV0YWci")
	e.Attestation.SymmetricKey.SecondaryKey = "c2Vjb25kYXJ5"
	e.CreatedDateTimeUTC = "2025-01-01T00:00:00.0000000Z"
	e.LastUpdatedDateTimeUTC = e.CreatedDateTimeUTC
	e.ProvisioningStatus = model.StatusEnabled
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		calls := make([][]Encoded, 64)
		for c := range calls {
			for range 10 {
				ce := *e
				ce.RegistrationID = fmt.Sprintf("device-%08d", n)
				n++
				r, err := EncodeEnrollment(&ce)
				if err != nil {
					b.Fatal(err)
				}
				calls[c] = append(calls[c], r)
			}
		}
		err := s.Update(ctx, func(tx *Tx) error {
			for _, rows := range calls {
				if _, err := tx.InsertEnrollments(rows); err != nil {
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
