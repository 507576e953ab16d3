package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// MaxPageSize bounds one List call.
const MaxPageSize = 1000

// entityTable runs the statements shared by the three entity tables. Ids
// are stored lower-cased; the original spelling lives in the document.
type entityTable struct {
	s       *Store
	name    string // SQL table
	kind    string // for error messages
	grouped bool   // has a group_id column

	get, list, listGroup, count *sql.Stmt // reader pool
	wGet, wDoc, insert, update  *sql.Stmt // writer connection
	del                         *sql.Stmt
	inserts                     insertStmts // writer connection
}

func newEntityTable(s *Store, name, kind string, grouped bool) (*entityTable, error) {
	t := &entityTable{s: s, name: name, kind: kind, grouped: grouped}
	type prep struct {
		db  *sql.DB
		dst **sql.Stmt
		sql string
	}
	updSQL := "UPDATE " + name + " SET id = ?, etag = ?, doc = ? WHERE seq = ?"
	insSQL := "INSERT INTO " + name + " (id, etag, doc) VALUES (?, ?, ?)"
	if grouped {
		updSQL = "UPDATE " + name + " SET id = ?, etag = ?, doc = ?, group_id = ? WHERE seq = ?"
		insSQL = "INSERT INTO " + name + " (id, etag, doc, group_id) VALUES (?, ?, ?, ?)"
	}
	ps := []prep{
		{s.r, &t.get, "SELECT seq, etag, doc FROM " + name + " WHERE id = ?"},
		{s.r, &t.list, "SELECT seq, doc FROM " + name + " WHERE seq > ? ORDER BY seq LIMIT ?"},
		{s.r, &t.count, "SELECT count(*) FROM " + name},
		{s.w, &t.wGet, "SELECT seq, etag FROM " + name + " WHERE id = ?"},
		{s.w, &t.wDoc, "SELECT seq, etag, doc FROM " + name + " WHERE id = ?"},
		{s.w, &t.update, updSQL},
		{s.w, &t.insert, insSQL},
		{s.w, &t.del, "DELETE FROM " + name + " WHERE seq = ?"},
	}
	if grouped {
		ps = append(ps, prep{s.r, &t.listGroup, "SELECT seq, doc FROM " + name + " WHERE group_id = ? AND seq > ? ORDER BY seq LIMIT ?"})
	}
	for _, p := range ps {
		st, err := p.db.Prepare(p.sql)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	if !grouped {
		if err := t.inserts.prepare(t); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

func (t *entityTable) close() error {
	errs := []error{t.inserts.close()}
	for _, st := range []*sql.Stmt{t.get, t.list, t.listGroup, t.count, t.wGet, t.wDoc, t.insert, t.update, t.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

func key(id string) string { return strings.ToLower(id) }

func (t *entityTable) notFound(id string) error {
	return fmt.Errorf("%s %q: %w", t.kind, id, ErrNotFound)
}

// read returns the stored document of id.
func (t *entityTable) read(ctx context.Context, id string) ([]byte, error) {
	var (
		seq  int64
		etag string
		doc  []byte
	)
	err := t.get.QueryRowContext(ctx, key(id)).Scan(&seq, &etag, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, t.notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", t.kind, id, err)
	}
	return doc, nil
}

// page returns up to limit documents after cursor, and the cursor of the
// next page (0 when there is none). group, if non-nil, filters on group_id.
func (t *entityTable) page(ctx context.Context, group *string, after int64, limit int) ([][]byte, int64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("list %ss: page size %d must be positive", t.kind, limit)
	}
	limit = min(limit, MaxPageSize)
	var (
		rows *sql.Rows
		err  error
	)
	if group != nil {
		rows, err = t.listGroup.QueryContext(ctx, *group, after, limit+1)
	} else {
		rows, err = t.list.QueryContext(ctx, after, limit+1)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list %ss: %w", t.kind, err)
	}
	defer rows.Close()
	docs := make([][]byte, 0, limit)
	var last, next int64
	for rows.Next() {
		var (
			seq int64
			doc []byte
		)
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, 0, fmt.Errorf("list %ss: %w", t.kind, err)
		}
		if len(docs) == limit {
			next = last
			break
		}
		docs = append(docs, doc)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list %ss: %w", t.kind, err)
	}
	return docs, next, nil
}

func (t *entityTable) countRows(ctx context.Context) (int, error) {
	var n int
	if err := t.count.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %ss: %w", t.kind, err)
	}
	return n, nil
}

// txRead reads id inside a write transaction. It remembers what it found
// so that a following txPut of the same id needs no second lookup.
func (t *entityTable) txRead(tx *Tx, id string) ([]byte, error) {
	var (
		seq  int64
		etag string
		doc  []byte
	)
	k := key(id)
	err := tx.tx.StmtContext(tx.ctx, t.wDoc).QueryRowContext(tx.ctx, k).Scan(&seq, &etag, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		tx.seen = seenRow{table: t, key: k}
		return nil, t.notFound(id)
	}
	if err != nil {
		tx.seen = seenRow{}
		return nil, fmt.Errorf("read %s %q: %w", t.kind, id, err)
	}
	tx.seen = seenRow{table: t, key: k, found: true, seq: seq, etag: etag}
	return doc, nil
}

// lookup returns the row's sequence number and etag, from the last txRead
// when it was of the same id.
func (t *entityTable) lookup(tx *Tx, k string) (seq int64, etag string, found bool, err error) {
	if s := tx.seen; s.table == t && s.key == k {
		return s.seq, s.etag, s.found, nil
	}
	err = tx.tx.StmtContext(tx.ctx, t.wGet).QueryRowContext(tx.ctx, k).Scan(&seq, &etag)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	return seq, etag, err == nil, err
}

// txPut writes doc under id with the precondition ifMatch:
//
//   - "": create only; ErrExists when id is taken.
//   - MatchAny: create or replace.
//   - an etag: replace only the entity carrying that etag; ErrNotFound when
//     there is none, ErrETagMismatch when it carries another etag.
//
// A replaced entity keeps its place in the listing order.
func (t *entityTable) txPut(tx *Tx, id, groupID, etag string, doc []byte, ifMatch string) error {
	seq, stored, exists, err := t.lookup(tx, key(id))
	tx.seen = seenRow{}
	if err != nil {
		return fmt.Errorf("write %s %q: %w", t.kind, id, err)
	}
	switch {
	case ifMatch == "" && exists:
		return fmt.Errorf("%s %q: %w", t.kind, id, ErrExists)
	case ifMatch != "" && ifMatch != MatchAny && !exists:
		return t.notFound(id)
	case ifMatch != "" && ifMatch != MatchAny && stored != ifMatch:
		return fmt.Errorf("%s %q: %w", t.kind, id, ErrETagMismatch)
	}
	if exists {
		args := []any{key(id), etag, doc}
		if t.grouped {
			args = append(args, groupID)
		}
		_, err = tx.tx.StmtContext(tx.ctx, t.update).ExecContext(tx.ctx, append(args, seq)...)
	} else {
		args := []any{key(id), etag, doc}
		if t.grouped {
			args = append(args, groupID)
		}
		_, err = tx.tx.StmtContext(tx.ctx, t.insert).ExecContext(tx.ctx, args...)
	}
	if err != nil {
		return fmt.Errorf("write %s %q: %w", t.kind, id, err)
	}
	return nil
}

// txDelete removes id. ifMatch "" or MatchAny deletes unconditionally;
// an etag must match the stored one.
func (t *entityTable) txDelete(tx *Tx, id, ifMatch string) error {
	seq, stored, exists, err := t.lookup(tx, key(id))
	tx.seen = seenRow{}
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", t.kind, id, err)
	}
	if !exists {
		return t.notFound(id)
	}
	if ifMatch != "" && ifMatch != MatchAny && ifMatch != stored {
		return fmt.Errorf("%s %q: %w", t.kind, id, ErrETagMismatch)
	}
	if _, err := tx.tx.StmtContext(tx.ctx, t.del).ExecContext(tx.ctx, seq); err != nil {
		return fmt.Errorf("delete %s %q: %w", t.kind, id, err)
	}
	return nil
}
