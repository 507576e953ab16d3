package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestIdleCheckpointer(t *testing.T) {
	var runs atomic.Int32
	ran := make(chan struct{}, 10)
	c := &idleCheckpointer{delay: 20 * time.Millisecond, run: func() { runs.Add(1); ran <- struct{}{} }}
	// A burst of writes is checkpointed once, after it ends.
	for range 50 {
		c.wrote()
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint after the writes stopped")
	}
	c.wrote()
	<-ran
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d checkpoints, want 2 (one per quiet period)", n)
	}
	// Once closed, a pending checkpoint does not run.
	c.wrote()
	c.close()
	c.wrote()
	time.Sleep(60 * time.Millisecond)
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d checkpoints after close, want 2", n)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestStoreCheckpointsWhenIdle: writes stay in the log while they come
// (no checkpoint inside the commits below the bound), and the log is
// copied and truncated once writes stop.
func TestStoreCheckpointsWhenIdle(t *testing.T) {
	s := openTest(t)
	s.checkpoints.delay = 50 * time.Millisecond
	ctx := context.Background()
	// 2,000 enrollments of 3 KB: a log of about 1,500 pages, beyond
	// SQLite's default checkpoint at 1,000.
	const n = 2000
	tags := json.RawMessage(fmt.Sprintf(`{"note":%q}`, strings.Repeat("x", 3000)))
	dbBefore := fileSize(t, s.Path())
	err := s.Update(ctx, func(tx *Tx) error {
		rows := make([]Encoded, n)
		for i := range rows {
			e := &model.IndividualEnrollment{
				RegistrationID: fmt.Sprintf("dev-%05d", i),
				EnrollmentCommon: model.EnrollmentCommon{
					ETag:        fmt.Sprint(i),
					Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
					InitialTwin: &model.InitialTwin{Tags: tags},
				},
			}
			var err error
			if rows[i], err = EncodeEnrollment(e); err != nil {
				return err
			}
		}
		_, err := tx.InsertEnrollments(rows)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if size := fileSize(t, s.Path()+"-wal"); size < 1000*4096 {
		t.Fatalf("log of %d bytes right after the commit; want the writes in it", size)
	}
	if size := fileSize(t, s.Path()); size != dbBefore {
		t.Fatalf("database file grew from %d to %d bytes in the commit: it checkpointed", dbBefore, size)
	}
	deadline := time.Now().Add(20 * time.Second)
	for fileSize(t, s.Path()+"-wal") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("log still %d bytes long after the writes stopped", fileSize(t, s.Path()+"-wal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if size := fileSize(t, s.Path()); size < n*3000 {
		t.Fatalf("database file of %d bytes after the checkpoint", size)
	}
	if c, err := s.CountEnrollments(ctx); err != nil || c != n {
		t.Fatalf("%d enrollments (%v), want %d", c, err, n)
	}
	// Writes after a checkpoint go on as before.
	if err := s.PutEnrollment(ctx, &model.IndividualEnrollment{
		RegistrationID: "after",
		EnrollmentCommon: model.EnrollmentCommon{
			ETag:        "x",
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
		},
	}, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CountEnrollments(ctx); c != n+1 {
		t.Fatalf("%d enrollments, want %d", c, n+1)
	}
}

// TestStoreCloseWithCheckpointPending: closing the store while a
// checkpoint is due neither fails nor runs it on closed connections.
func TestStoreCloseWithCheckpointPending(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.checkpoints.delay = time.Hour
	if err := s.PutEnrollment(context.Background(), &model.IndividualEnrollment{
		RegistrationID: "a",
		EnrollmentCommon: model.EnrollmentCommon{
			ETag:        "x",
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
		},
	}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, err := s2.CountEnrollments(context.Background()); err != nil || c != 1 {
		t.Fatalf("%d enrollments after reopening (%v), want 1", c, err)
	}
}

// TestCheckpointLeavesTheLogToAnOldReader: while a reader (such as another
// process sharing the data directory) holds an older snapshot, a
// checkpoint copies what it can and leaves the log, rather than wait for
// the reader with the writer connection held.
func TestCheckpointLeavesTheLogToAnOldReader(t *testing.T) {
	s := openTest(t)
	s.checkpoints.delay = time.Hour
	ctx := context.Background()
	put := func(id string) {
		t.Helper()
		if err := s.PutEnrollment(ctx, &model.IndividualEnrollment{
			RegistrationID: id,
			EnrollmentCommon: model.EnrollmentCommon{
				ETag:        id,
				Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
			},
		}, ""); err != nil {
			t.Fatal(err)
		}
	}
	put("before")
	other, err := openDB(s.Path(), "deferred", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM enrollments").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader sees %d (%v)", n, err)
	}
	put("after")
	start := time.Now()
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > busyTimeoutMS*time.Millisecond/2 {
		t.Fatalf("checkpoint waited %v for the reader", d)
	}
	if fileSize(t, s.Path()+"-wal") == 0 {
		t.Fatal("the log was truncated under a reader")
	}
	put("later") // the writer is free
	reader.Rollback()
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if size := fileSize(t, s.Path()+"-wal"); size != 0 {
		t.Fatalf("log of %d bytes once the reader is gone", size)
	}
}

// TestBusyCheckpoint: while writes go on, a log past the threshold is
// copied into the database in the background, long before the log reaches
// the bound at which a commit would copy it.
func TestBusyCheckpoint(t *testing.T) {
	s := openTest(t)
	s.checkpoints.delay = time.Hour // no idle checkpoint in this test
	s.busy.threshold = 256 << 10
	ctx := context.Background()
	dbBefore := fileSize(t, s.Path())
	tags := json.RawMessage(fmt.Sprintf(`{"note":%q}`, strings.Repeat("x", 2000)))
	// 2,000 commits of about 16 KiB of log each stay far below the bound
	// (walAutocheckpointPages), and far above the threshold.
	const commits = 2000
	grew := -1
	for i := 0; i < commits && grew < 0; i++ {
		e := &model.IndividualEnrollment{
			RegistrationID: fmt.Sprintf("dev-%05d", i),
			EnrollmentCommon: model.EnrollmentCommon{
				ETag:        fmt.Sprint(i),
				Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
				InitialTwin: &model.InitialTwin{Tags: tags},
			},
		}
		if err := s.PutEnrollment(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
		if i%busyCheckEvery == 0 {
			time.Sleep(time.Millisecond) // let a started copy run
		}
		if fileSize(t, s.Path()) != dbBefore {
			grew = i
		}
	}
	if grew < 0 {
		t.Fatalf("after %d commits (a log of %d bytes) the database file is still %d bytes: the log was not copied",
			commits, fileSize(t, s.Path()+"-wal"), dbBefore)
	}
	if log := fileSize(t, s.Path()+"-wal"); log >= walAutocheckpointPages*4096 {
		t.Fatalf("the log reached %d bytes: the bound, not the background copy, checkpointed", log)
	}
	if c, err := s.CountEnrollments(ctx); err != nil || c != grew+1 {
		t.Fatalf("%d enrollments (%v), want %d", c, err, grew+1)
	}
}
