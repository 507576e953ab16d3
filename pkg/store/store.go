// Package store persists the local provisioning service in one SQLite file.
//
// Every entity (individual enrollment, enrollment group, registration state)
// is kept as its wire JSON next to a few indexed columns: the lower-cased id
// for case-insensitive lookup, the etag for preconditions and an
// ever-growing sequence number that gives a stable insertion order for
// paging. The database runs in WAL mode with a busy timeout, so a running
// service and a command-line process can share one data directory.
//
// Beside them live the small tables of the service: settings (meta),
// shared access policies, linked IoT hubs, the device registries of the
// local hubs (one JSON document per hub and device ID), CA certificates
// known by name, and the keys handed to TPM devices in their challenge.
//
// Writes go through Update, which runs a function inside one IMMEDIATE
// transaction; the single-entity Put and Delete helpers are thin wrappers
// around it. Reads use a separate pool of connections and never wait for a
// writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database file inside a data directory.
const FileName = "dpsctl.db"

// SchemaVersion is the schema this package writes (PRAGMA user_version).
const SchemaVersion = 3

// MatchAny is the If-Match wildcard: any existing entity, or none.
const MatchAny = "*"

// Sentinel errors. Wrapped errors carry the entity kind and id.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrETagMismatch = errors.New("etag does not match")
)

// busyTimeoutMS is how long a connection waits for another writer's lock.
const busyTimeoutMS = 5000

// Store is an open database. It is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection, IMMEDIATE transactions
	r    *sql.DB // readers

	checkpoints idleCheckpointer
	busy        busyCheckpointer

	enrollments   *entityTable
	groups        *entityTable
	registrations *entityTable
	hubDevices    *hubDeviceStmts
}

// Open opens (creating it and its schema if needed) the database in dir.
// The directory must exist.
func Open(dir string) (*Store, error) {
	return OpenFile(filepath.Join(dir, FileName))
}

// ErrEmptyDatabase is returned by Open for a database file of zero bytes.
// Open never leaves such a file behind (see OpenFile), so it means the
// database was lost: a failed copy, a full disk, a truncation.
var ErrEmptyDatabase = errors.New("the database file is empty (0 bytes)")

// OpenFile opens the database at path, creating it (mode 0600) if needed.
//
// A new database is made with its schema under a temporary name and
// linked into place, so path never names an empty file, even while two
// processes create it at once. A file of zero bytes at path is therefore
// not a new database but a lost one, and is refused (ErrEmptyDatabase)
// rather than given a new identity.
func OpenFile(path string) (*Store, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	s := &Store{path: path}
	s.checkpoints = idleCheckpointer{delay: idleCheckpointDelay, run: s.idleCheckpoint}
	s.busy.threshold = busyCheckpointBytes
	if s.w, err = openDB(path, "immediate", walAutocheckpointPages); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(); err != nil {
		s.w.Close()
		return nil, err
	}
	if s.r, err = openDB(path, "deferred", 0); err != nil {
		s.w.Close()
		return nil, err
	}
	s.r.SetMaxOpenConns(8)
	s.r.SetMaxIdleConns(8)
	s.r.SetConnMaxIdleTime(0)
	s.r.SetConnMaxLifetime(0)
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens a pool of connections to path; autocheckpoint, if not 0,
// is their wal_autocheckpoint.
func openDB(path, txlock string, autocheckpoint int) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", txlock)
	if autocheckpoint != 0 {
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autocheckpoint))
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// Path returns the database file name.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.checkpoints.close()
	var errs []error
	for _, t := range []*entityTable{s.enrollments, s.groups, s.registrations} {
		if t != nil {
			errs = append(errs, t.close())
		}
	}
	if s.hubDevices != nil {
		errs = append(errs, s.hubDevices.close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// migrations[i] moves the schema from version i to i+1.
var migrations = []string{
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE policies (
	name          TEXT PRIMARY KEY COLLATE NOCASE,
	primary_key   TEXT NOT NULL,
	secondary_key TEXT NOT NULL,
	rights        TEXT NOT NULL,
	seq           INTEGER NOT NULL
);
CREATE TABLE enrollments (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	id   TEXT NOT NULL UNIQUE,
	etag TEXT NOT NULL,
	doc  TEXT NOT NULL
);
CREATE TABLE enrollment_groups (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	id   TEXT NOT NULL UNIQUE,
	etag TEXT NOT NULL,
	doc  TEXT NOT NULL
);
CREATE TABLE registrations (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	id       TEXT NOT NULL UNIQUE,
	group_id TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
	etag     TEXT NOT NULL,
	doc      TEXT NOT NULL
);
CREATE INDEX registrations_by_group ON registrations (group_id, seq);
CREATE TABLE linked_hubs (
	host_name               TEXT PRIMARY KEY COLLATE NOCASE,
	connection_string       TEXT NOT NULL,
	allocation_weight       INTEGER NOT NULL DEFAULT 1,
	apply_allocation_policy INTEGER NOT NULL DEFAULT 1,
	seq                     INTEGER NOT NULL
);
`,
	// 2: the device side. Device identities of the local IoT hubs, the
	// service's own verified CA certificates, and the HMAC keys handed to
	// TPM devices in their challenge.
	`
CREATE TABLE hub_devices (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	hub  TEXT NOT NULL COLLATE NOCASE,
	id   TEXT NOT NULL COLLATE NOCASE,
	doc  TEXT NOT NULL,
	UNIQUE (hub, id)
);
CREATE INDEX hub_devices_by_id ON hub_devices (id);
CREATE TABLE certificates (
	name        TEXT PRIMARY KEY COLLATE NOCASE,
	certificate TEXT NOT NULL,
	verified    INTEGER NOT NULL DEFAULT 0,
	created     TEXT NOT NULL,
	seq         INTEGER NOT NULL
);
CREATE TABLE tpm_challenges (
	id      TEXT PRIMARY KEY COLLATE NOCASE,
	key     TEXT NOT NULL,
	expires INTEGER NOT NULL
);
`,
	// 3: proof of possession of CA certificates. Each has an etag and a
	// time of its last change, and the verification code issued last with
	// its expiry (unix seconds; 0 when none is pending).
	`
ALTER TABLE certificates ADD COLUMN etag TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN updated TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN verification_code TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN code_expires INTEGER NOT NULL DEFAULT 0;
`,
}

// ensureFile checks the database file at path, creating it when missing.
func ensureFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if fi.Mode().IsRegular() && fi.Size() == 0 {
			return fmt.Errorf("database %s: %w", path, ErrEmptyDatabase)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open database: %w", err)
	}
	return create(path)
}

// create makes a database with the current schema at path, unless another
// process does first: the database is written to a temporary file in the
// same directory and hard-linked to path, which fails if path exists. On
// file systems without hard links the file is created exclusively and
// filled with a copy instead.
func create(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	name := tmp.Name()
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(name + suffix)
		}
	}()
	err = tmp.Chmod(0o600)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := initialize(name); err != nil {
		return err
	}
	err = os.Link(name, path)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil // linked, or another process created it first
	}
	return copyExclusive(name, path)
}

// initialize writes the schema to the new database file name. It writes
// with a rollback journal, so that everything is in the file itself when
// it is closed, and then marks the file as a WAL database (the mode is
// kept in its header). Stores opening it therefore never have to switch
// the mode, which takes an exclusive lock that SQLite refuses at once,
// without waiting, to one of several stores opening a new database
// together.
func initialize(name string) error {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_journal_mode", "DELETE")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", OmitHost: true, Path: name, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	db.SetMaxOpenConns(1)
	err = migrate(db, name)
	if err == nil {
		_, err = db.Exec("PRAGMA journal_mode = WAL")
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// copyExclusive creates path, which must not exist, with the content of
// name.
func copyExclusive(name, path string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// migrate brings the schema to SchemaVersion inside one write transaction,
// so two processes opening a database at once do not race.
func (s *Store) migrate() error { return migrate(s.w, s.path) }

func migrate(db *sql.DB, path string) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database %s has schema version %d; this program knows up to %d", path, v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return tx.Commit()
}

func (s *Store) prepare() error {
	var err error
	if s.enrollments, err = newEntityTable(s, "enrollments", "enrollment", false); err != nil {
		return err
	}
	if s.groups, err = newEntityTable(s, "enrollment_groups", "enrollment group", false); err != nil {
		return err
	}
	if s.registrations, err = newEntityTable(s, "registrations", "registration", true); err != nil {
		return err
	}
	if s.hubDevices, err = newHubDeviceStmts(s); err != nil {
		return err
	}
	return nil
}

// Tx is a write transaction handed to the function given to Update. It must
// not be used after that function returns.
type Tx struct {
	s    *Store
	ctx  context.Context
	tx   *sql.Tx
	seen seenRow // the row the last entity read found (or did not)
}

// seenRow remembers one entity lookup inside a transaction. Every write
// through the Tx clears it, so it never outlives the state it describes.
type seenRow struct {
	table *entityTable
	key   string
	found bool
	seq   int64
	etag  string
}

// Update runs fn in one write transaction and commits it when fn returns
// nil; an error or a panic rolls everything back. Transactions are
// serialised: within the process by a single writer connection, across
// processes by SQLite's lock (waiting up to the busy timeout). fn must use
// only tx for writes: calling a Store write method from inside it would
// wait for the connection fn holds.
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{s: s, ctx: ctx, tx: sqlTx}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.checkpoints.wrote()
	s.busy.wrote(s)
	return nil
}

// Context returns the context of the transaction.
func (tx *Tx) Context() context.Context { return tx.ctx }
