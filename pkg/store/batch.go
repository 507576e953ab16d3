package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// Encoded is an entity encoded for the batch inserts, ready to be written
// without further work inside the transaction. Build it with
// EncodeEnrollment or EncodeEnrollmentGroup, outside the transaction.
type Encoded struct {
	// ID is the entity's id as given (stored lower-cased).
	ID   string
	ETag string
	Doc  []byte
}

// EncodeEnrollment encodes e (as PutEnrollment stores it) for
// InsertEnrollments.
func EncodeEnrollment(e *model.IndividualEnrollment) (Encoded, error) {
	if err := requireID("enrollment", e.RegistrationID); err != nil {
		return Encoded{}, err
	}
	doc, err := encode("enrollment", e)
	if err != nil {
		return Encoded{}, err
	}
	return Encoded{ID: e.RegistrationID, ETag: e.ETag, Doc: doc}, nil
}

// EncodeEnrollmentGroup encodes g for InsertEnrollmentGroups.
func EncodeEnrollmentGroup(g *model.EnrollmentGroup) (Encoded, error) {
	if err := requireID("enrollment group", g.EnrollmentGroupID); err != nil {
		return Encoded{}, err
	}
	doc, err := encode("enrollment group", g)
	if err != nil {
		return Encoded{}, err
	}
	return Encoded{ID: g.EnrollmentGroupID, ETag: g.ETag, Doc: doc}, nil
}

// InsertEnrollments creates the enrollments of rows that do not exist yet,
// in order, and reports for each row whether it was created: false means
// the id was taken (by a stored enrollment or an earlier row), which
// PutEnrollment with no If-Match would answer with ErrExists. It costs one
// statement per insertChunk rows and decodes no stored entity; only when
// some ids of a statement are taken does it look up which, by etag: each
// row must carry a new etag, as every write makes one.
func (tx *Tx) InsertEnrollments(rows []Encoded) ([]bool, error) {
	return tx.s.enrollments.txInsertNew(tx, rows)
}

// InsertEnrollmentGroups is InsertEnrollments for enrollment groups.
func (tx *Tx) InsertEnrollmentGroups(rows []Encoded) ([]bool, error) {
	return tx.s.groups.txInsertNew(tx, rows)
}

// insertChunk is the most rows one INSERT statement carries.
const insertChunk = 16

// insertStmts are the multi-row "insert unless the id exists" statements
// of a table on the writer connection, one per row count. They are
// prepared when the store opens: preparing on the writer pool inside a
// transaction would wait for the connection the transaction holds.
type insertStmts [insertChunk + 1]*sql.Stmt

func (is *insertStmts) prepare(t *entityTable) error {
	for n := 1; n <= insertChunk; n++ {
		var b strings.Builder
		b.WriteString("INSERT INTO " + t.name + " (id, etag, doc) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?)")
		}
		b.WriteString(" ON CONFLICT (id) DO NOTHING")
		st, err := t.s.w.Prepare(b.String())
		if err != nil {
			return fmt.Errorf("prepare insert of %d %ss: %w", n, t.kind, err)
		}
		is[n] = st
	}
	return nil
}

func (is *insertStmts) close() error {
	var errs []error
	for i, st := range is {
		if st != nil {
			errs = append(errs, st.Close())
			is[i] = nil
		}
	}
	return errors.Join(errs...)
}

func (t *entityTable) txInsertNew(tx *Tx, rows []Encoded) ([]bool, error) {
	if t.inserts[1] == nil {
		return nil, fmt.Errorf("insert %ss: not supported for this table", t.kind)
	}
	tx.seen = seenRow{}
	created := make([]bool, len(rows))
	// An id may come twice; only its first row is sent.
	first := make(map[string]struct{}, len(rows))
	keys := make([]string, len(rows))
	send := make([]int, 0, len(rows))
	for i, r := range rows {
		if err := requireID(t.kind, r.ID); err != nil {
			return nil, err
		}
		keys[i] = key(r.ID)
		if _, dup := first[keys[i]]; !dup {
			first[keys[i]] = struct{}{}
			send = append(send, i)
		}
	}
	args := make([]any, 0, 3*insertChunk)
	for start := 0; start < len(send); start += insertChunk {
		chunk := send[start:min(start+insertChunk, len(send))]
		args = args[:0]
		for _, i := range chunk {
			args = append(args, keys[i], rows[i].ETag, rows[i].Doc)
		}
		res, err := tx.tx.StmtContext(tx.ctx, t.inserts[len(chunk)]).ExecContext(tx.ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("insert %ss: %w", t.kind, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("insert %ss: %w", t.kind, err)
		}
		if int(n) == len(chunk) {
			for _, i := range chunk {
				created[i] = true
			}
			continue
		}
		// Some ids were taken: a row was inserted when the stored row
		// carries its etag (every write makes a new one).
		for _, i := range chunk {
			_, etag, found, err := t.lookup(tx, keys[i])
			if err != nil {
				return nil, fmt.Errorf("insert %ss: %w", t.kind, err)
			}
			created[i] = found && etag == rows[i].ETag
		}
	}
	return created, nil
}
