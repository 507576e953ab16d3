package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	fastjson "github.com/segmentio/encoding/json"
)

// ---- device registries of the local IoT hubs

// Authentication types and connection states of hub devices: linkedhub's.
const (
	AuthSAS                = linkedhub.AuthSAS
	AuthSelfSigned         = linkedhub.AuthSelfSigned
	ConnectionDisconnected = linkedhub.ConnectionDisconnected
	ConnectionConnected    = linkedhub.ConnectionConnected
)

// HubDevice is a device identity in the registry of a local IoT hub, stored
// as the JSON document of linkedhub.Device. Device IDs compare without
// regard to case (they come from registration IDs, which DPS compares that
// way).
type HubDevice = linkedhub.Device

type hubDeviceStmts struct {
	get, list, listHub, find, count, countHub *sql.Stmt // readers
	wGet, put, del                            *sql.Stmt // writer
}

func newHubDeviceStmts(s *Store) (*hubDeviceStmts, error) {
	h := &hubDeviceStmts{}
	ps := []struct {
		db  *sql.DB
		dst **sql.Stmt
		sql string
	}{
		{s.r, &h.get, "SELECT doc FROM hub_devices WHERE hub = ? AND id = ?"},
		{s.r, &h.list, "SELECT seq, doc FROM hub_devices WHERE seq > ? ORDER BY seq LIMIT ?"},
		{s.r, &h.listHub, "SELECT seq, doc FROM hub_devices WHERE hub = ? AND seq > ? ORDER BY seq LIMIT ?"},
		{s.r, &h.find, "SELECT doc FROM hub_devices WHERE id = ? ORDER BY seq"},
		{s.r, &h.count, "SELECT count(*) FROM hub_devices"},
		{s.r, &h.countHub, "SELECT count(*) FROM hub_devices WHERE hub = ?"},
		{s.w, &h.wGet, "SELECT doc FROM hub_devices WHERE hub = ? AND id = ?"},
		{s.w, &h.put, "INSERT INTO hub_devices (hub, id, doc) VALUES (?, ?, ?) ON CONFLICT (hub, id) DO UPDATE SET doc = excluded.doc"},
		{s.w, &h.del, "DELETE FROM hub_devices WHERE hub = ? AND id = ?"},
	}
	for _, p := range ps {
		st, err := p.db.Prepare(p.sql)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return h, nil
}

func (h *hubDeviceStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.get, h.list, h.listHub, h.find, h.count, h.countHub, h.wGet, h.put, h.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

func hubDeviceNotFound(hub, id string) error {
	return fmt.Errorf("device %q of hub %q: %w", id, hub, ErrNotFound)
}

func decodeHubDevice(doc []byte) (*HubDevice, error) {
	d := new(HubDevice)
	if err := fastjson.Unmarshal(doc, d); err != nil {
		return nil, fmt.Errorf("stored hub device is corrupt: %w", err)
	}
	return d, nil
}

// HubDevice returns a device of a hub's registry, or ErrNotFound.
func (s *Store) HubDevice(ctx context.Context, hub, id string) (*HubDevice, error) {
	var doc []byte
	err := s.hubDevices.get.QueryRowContext(ctx, hub, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hubDeviceNotFound(hub, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read device %q of hub %q: %w", id, hub, err)
	}
	return decodeHubDevice(doc)
}

// FindHubDevices returns the devices with this ID in every hub's registry,
// in the order they were created.
func (s *Store) FindHubDevices(ctx context.Context, id string) ([]*HubDevice, error) {
	rows, err := s.hubDevices.find.QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find device %q: %w", id, err)
	}
	defer rows.Close()
	var out []*HubDevice
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("find device %q: %w", id, err)
		}
		d, err := decodeHubDevice(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find device %q: %w", id, err)
	}
	return out, nil
}

// ListHubDevices returns up to limit devices in creation order after the
// cursor: those of one hub, or of every hub when hub is empty.
func (s *Store) ListHubDevices(ctx context.Context, hub string, after int64, limit int) (Page[*HubDevice], error) {
	if limit <= 0 {
		return Page[*HubDevice]{}, fmt.Errorf("list hub devices: page size %d must be positive", limit)
	}
	limit = min(limit, MaxPageSize)
	var (
		rows *sql.Rows
		err  error
	)
	if hub != "" {
		rows, err = s.hubDevices.listHub.QueryContext(ctx, hub, after, limit+1)
	} else {
		rows, err = s.hubDevices.list.QueryContext(ctx, after, limit+1)
	}
	if err != nil {
		return Page[*HubDevice]{}, fmt.Errorf("list hub devices: %w", err)
	}
	defer rows.Close()
	p := Page[*HubDevice]{Items: make([]*HubDevice, 0, limit)}
	var last int64
	for rows.Next() {
		var (
			seq int64
			doc []byte
		)
		if err := rows.Scan(&seq, &doc); err != nil {
			return Page[*HubDevice]{}, fmt.Errorf("list hub devices: %w", err)
		}
		if len(p.Items) == limit {
			p.Next = last
			break
		}
		d, err := decodeHubDevice(doc)
		if err != nil {
			return Page[*HubDevice]{}, err
		}
		p.Items = append(p.Items, d)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return Page[*HubDevice]{}, fmt.Errorf("list hub devices: %w", err)
	}
	return p, nil
}

// CountHubDevices counts the devices of one hub, or of all hubs when hub is
// empty.
func (s *Store) CountHubDevices(ctx context.Context, hub string) (int, error) {
	var (
		n   int
		err error
	)
	if hub != "" {
		err = s.hubDevices.countHub.QueryRowContext(ctx, hub).Scan(&n)
	} else {
		err = s.hubDevices.count.QueryRowContext(ctx).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count hub devices: %w", err)
	}
	return n, nil
}

// PutHubDevice creates or replaces a hub device; see Tx.PutHubDevice.
func (s *Store) PutHubDevice(ctx context.Context, d *HubDevice) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutHubDevice(d) })
}

// DeleteHubDevice removes a hub device, or returns ErrNotFound.
func (s *Store) DeleteHubDevice(ctx context.Context, hub, id string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteHubDevice(hub, id) })
}

// UpdateHubDevice reads a hub device, lets fn change it and writes it back,
// in one transaction. ErrNotFound when there is no such device; an error
// from fn is returned as is and nothing is written.
func (s *Store) UpdateHubDevice(ctx context.Context, hub, id string, fn func(*HubDevice) error) error {
	return s.Update(ctx, func(tx *Tx) error {
		d, err := tx.HubDevice(hub, id)
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		return tx.PutHubDevice(d)
	})
}

// HubDevice reads a hub device inside the transaction.
func (tx *Tx) HubDevice(hub, id string) (*HubDevice, error) {
	var doc []byte
	err := tx.tx.StmtContext(tx.ctx, tx.s.hubDevices.wGet).QueryRowContext(tx.ctx, hub, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hubDeviceNotFound(hub, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read device %q of hub %q: %w", id, hub, err)
	}
	return decodeHubDevice(doc)
}

// PutHubDevice creates or replaces the device d.DeviceID of hub
// d.HubHostName. A replaced device keeps its place in listings.
func (tx *Tx) PutHubDevice(d *HubDevice) error {
	if d.HubHostName == "" || d.DeviceID == "" {
		return errors.New("hub device needs a hub host name and a device id")
	}
	doc, err := encode("hub device", d)
	if err != nil {
		return err
	}
	if _, err := tx.tx.StmtContext(tx.ctx, tx.s.hubDevices.put).ExecContext(tx.ctx, d.HubHostName, d.DeviceID, doc); err != nil {
		return fmt.Errorf("write device %q of hub %q: %w", d.DeviceID, d.HubHostName, err)
	}
	return nil
}

// DeleteHubDevice removes a hub device inside the transaction, or returns
// ErrNotFound.
func (tx *Tx) DeleteHubDevice(hub, id string) error {
	res, err := tx.tx.StmtContext(tx.ctx, tx.s.hubDevices.del).ExecContext(tx.ctx, hub, id)
	if err != nil {
		return fmt.Errorf("delete device %q of hub %q: %w", id, hub, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hubDeviceNotFound(hub, id)
	}
	return nil
}

// ---- CA certificates of the service

// Certificate is a CA certificate the service knows by name: what the
// caReferences of an X.509 enrollment group name. Only verified
// certificates count.
type Certificate struct {
	Name        string
	Certificate string // PEM
	Verified    bool
	Created     string
	// ETag changes with every write; Updated is the time of the last one.
	ETag    string
	Updated string
	// Code is the verification code issued last, pending until Expires
	// (unix seconds); "" when none is pending.
	Code    string
	Expires int64
}

const certificateColumns = "SELECT name, certificate, verified, created, etag, updated, verification_code, code_expires FROM certificates"

func scanCertificates(rows *sql.Rows) ([]Certificate, error) {
	defer rows.Close()
	var out []Certificate
	for rows.Next() {
		var c Certificate
		if err := rows.Scan(&c.Name, &c.Certificate, &c.Verified, &c.Created, &c.ETag, &c.Updated, &c.Code, &c.Expires); err != nil {
			return nil, fmt.Errorf("read certificates: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	return out, nil
}

// Certificates returns every certificate in the order they were added.
func (s *Store) Certificates(ctx context.Context) ([]Certificate, error) {
	rows, err := s.r.QueryContext(ctx, certificateColumns+" ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	return scanCertificates(rows)
}

// Certificate returns a certificate by name (compared without regard to
// case), or ErrNotFound.
func (s *Store) Certificate(ctx context.Context, name string) (Certificate, error) {
	return readCertificate(ctx, s.r, name)
}

// readCertificate reads the certificate called name through q (the
// reader pool, or a write transaction).
func readCertificate(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, name string) (Certificate, error) {
	rows, err := q.QueryContext(ctx, certificateColumns+" WHERE name = ?", name)
	if err != nil {
		return Certificate{}, fmt.Errorf("read certificate %q: %w", name, err)
	}
	cs, err := scanCertificates(rows)
	if err != nil {
		return Certificate{}, err
	}
	if len(cs) == 0 {
		return Certificate{}, fmt.Errorf("certificate %q: %w", name, ErrNotFound)
	}
	return cs[0], nil
}

// PutCertificate adds or replaces a certificate.
func (s *Store) PutCertificate(ctx context.Context, c Certificate) error {
	if c.Name == "" || c.Certificate == "" {
		return errors.New("certificate needs a name and a PEM body")
	}
	return s.Update(ctx, func(tx *Tx) error { return tx.putCertificate(c) })
}

func (tx *Tx) putCertificate(c Certificate) error {
	if c.Updated == "" {
		c.Updated = c.Created
	}
	if c.ETag == "" {
		var b [12]byte
		rand.Read(b[:])
		c.ETag = base64.StdEncoding.EncodeToString(b[:])
	}
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO certificates (name, certificate, verified, created, etag, updated, verification_code, code_expires, seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM certificates))
ON CONFLICT (name) DO UPDATE SET certificate = excluded.certificate, verified = excluded.verified, etag = excluded.etag,
	updated = excluded.updated, verification_code = excluded.verification_code, code_expires = excluded.code_expires`,
		c.Name, c.Certificate, c.Verified, c.Created, c.ETag, c.Updated, c.Code, c.Expires)
	if err != nil {
		return fmt.Errorf("write certificate %q: %w", c.Name, err)
	}
	return nil
}

func (tx *Tx) certificate(name string) (Certificate, error) {
	return readCertificate(tx.ctx, tx.tx, name)
}

// UpdateCertificate changes the certificate called name in one write
// transaction: the certificate must be at ifMatch (MatchAny for any;
// ErrETagMismatch otherwise), fn changes it and the result is stored and
// returned. A missing certificate is ErrNotFound.
func (s *Store) UpdateCertificate(ctx context.Context, name, ifMatch string, fn func(*Certificate) error) (Certificate, error) {
	var out Certificate
	err := s.Update(ctx, func(tx *Tx) error {
		c, err := tx.certificate(name)
		if err != nil {
			return err
		}
		if ifMatch != MatchAny && ifMatch != c.ETag {
			return fmt.Errorf("certificate %q: %w", name, ErrETagMismatch)
		}
		if err := fn(&c); err != nil {
			return err
		}
		out = c
		return tx.putCertificate(c)
	})
	return out, err
}

// AddCertificate stores a new certificate, or with ifMatch (MatchAny or
// its etag) replaces an existing one: ErrExists when one exists and
// ifMatch is "", ErrETagMismatch when it is at another etag, ErrNotFound
// when there is none and ifMatch names an etag.
func (s *Store) AddCertificate(ctx context.Context, c Certificate, ifMatch string) error {
	if c.Name == "" || c.Certificate == "" {
		return errors.New("certificate needs a name and a PEM body")
	}
	return s.Update(ctx, func(tx *Tx) error {
		cur, err := tx.certificate(c.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			if ifMatch != "" && ifMatch != MatchAny {
				return err
			}
		case err != nil:
			return err
		case ifMatch == "":
			return fmt.Errorf("certificate %q: %w", c.Name, ErrExists)
		case ifMatch != MatchAny && ifMatch != cur.ETag:
			return fmt.Errorf("certificate %q: %w", c.Name, ErrETagMismatch)
		default:
			c.Name, c.Created = cur.Name, cur.Created // the name as first written
		}
		return tx.putCertificate(c)
	})
}

// DeleteCertificateIf removes the certificate at ifMatch (MatchAny for
// any): ErrNotFound or ErrETagMismatch otherwise.
func (s *Store) DeleteCertificateIf(ctx context.Context, name, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error {
		c, err := tx.certificate(name)
		if err != nil {
			return err
		}
		if ifMatch != MatchAny && ifMatch != c.ETag {
			return fmt.Errorf("certificate %q: %w", name, ErrETagMismatch)
		}
		if _, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM certificates WHERE name = ?", name); err != nil {
			return fmt.Errorf("delete certificate %q: %w", name, err)
		}
		return nil
	})
}

// DeleteCertificate removes a certificate, or returns ErrNotFound.
func (s *Store) DeleteCertificate(ctx context.Context, name string) error {
	return s.Update(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM certificates WHERE name = ?", name)
		if err != nil {
			return fmt.Errorf("delete certificate %q: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("certificate %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// ---- TPM challenge keys

// A TPM challenge key is single use: TPMChallenge reads it to check a
// device's token, and ConsumeTPMChallenge removes it when the device is
// accepted, so that the same token cannot register the device again.

// PutTPMChallenge remembers the HMAC key handed to a TPM device in its
// activation blob, until expires, replacing any earlier one. Expired keys
// of other devices are dropped on the way.
func (s *Store) PutTPMChallenge(ctx context.Context, registrationID, key string, expires time.Time) error {
	return s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM tpm_challenges WHERE expires < ?", time.Now().Unix()); err != nil {
			return fmt.Errorf("drop expired TPM challenges: %w", err)
		}
		_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO tpm_challenges (id, key, expires) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET key = excluded.key, expires = excluded.expires`, registrationID, key, expires.Unix())
		if err != nil {
			return fmt.Errorf("write TPM challenge of %q: %w", registrationID, err)
		}
		return nil
	})
}

// TPMChallenge returns the challenge key of a registration ID that is
// still valid at now, or ErrNotFound.
func (s *Store) TPMChallenge(ctx context.Context, registrationID string, now time.Time) (string, error) {
	var (
		key     string
		expires int64
	)
	err := s.r.QueryRowContext(ctx, "SELECT key, expires FROM tpm_challenges WHERE id = ?", registrationID).Scan(&key, &expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && expires < now.Unix() {
		return "", fmt.Errorf("TPM challenge of %q: %w", registrationID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read TPM challenge of %q: %w", registrationID, err)
	}
	return key, nil
}

// ConsumeTPMChallenge removes the challenge key of a registration ID if
// that key is key and still valid at now, and returns ErrNotFound
// otherwise (never issued, replaced by a newer challenge, expired, or
// already consumed).
// The check and the removal are one statement in a write transaction, so
// of concurrent calls with the same key exactly one succeeds.
func (tx *Tx) ConsumeTPMChallenge(registrationID, key string, now time.Time) error {
	tx.seen = seenRow{}
	res, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM tpm_challenges WHERE id = ? AND key = ? AND expires >= ?", registrationID, key, now.Unix())
	if err != nil {
		return fmt.Errorf("consume TPM challenge of %q: %w", registrationID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("consume TPM challenge of %q: %w", registrationID, err)
	}
	if n == 0 {
		return fmt.Errorf("TPM challenge of %q: %w", registrationID, ErrNotFound)
	}
	return nil
}

// ConsumeTPMChallenge is Tx.ConsumeTPMChallenge in a transaction of its own.
func (s *Store) ConsumeTPMChallenge(ctx context.Context, registrationID, key string, now time.Time) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.ConsumeTPMChallenge(registrationID, key, now) })
}
