package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Well-known meta keys.
const (
	MetaIDScope     = "idScope"
	MetaHostName    = "hostName"
	MetaAddress     = "address"
	MetaCreatedTime = "createdTime"
	// MetaDefaultHub records that the default linked hub was created once
	// (so unlinking it sticks).
	MetaDefaultHub = "defaultHub"
	// MetaAllocationPolicy is the service-level allocation policy used by
	// enrollments that set none (default hashed).
	MetaAllocationPolicy = "allocationPolicy"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ---- meta: small settings such as the ID scope

func getMeta(ctx context.Context, q querier, k string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", k, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %q: %w", k, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, q querier, k, v string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, v)
	if err != nil {
		return fmt.Errorf("write setting %q: %w", k, err)
	}
	return nil
}

// Meta returns a setting, or ErrNotFound.
func (s *Store) Meta(ctx context.Context, key string) (string, error) { return getMeta(ctx, s.r, key) }

// SetMeta writes a setting.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.SetMeta(key, value) })
}

// Meta returns a setting inside the transaction, or ErrNotFound.
func (tx *Tx) Meta(key string) (string, error) { return getMeta(tx.ctx, tx.tx, key) }

// SetMeta writes a setting inside the transaction.
func (tx *Tx) SetMeta(key, value string) error { return setMeta(tx.ctx, tx.tx, key, value) }

// ---- shared access policies

// Policy is a shared access policy of the service API.
type Policy struct {
	Name         string
	PrimaryKey   string // base64
	SecondaryKey string // base64
	Rights       []string
}

// HasRight reports whether the policy grants right (compared without regard
// to case).
func (p Policy) HasRight(right string) bool {
	for _, r := range p.Rights {
		if strings.EqualFold(r, right) {
			return true
		}
	}
	return false
}

func scanPolicies(rows *sql.Rows) ([]Policy, error) {
	defer rows.Close()
	var ps []Policy
	for rows.Next() {
		var (
			p      Policy
			rights string
		)
		if err := rows.Scan(&p.Name, &p.PrimaryKey, &p.SecondaryKey, &rights); err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		p.Rights = splitRights(rights)
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	return ps, nil
}

func splitRights(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

const policyColumns = "SELECT name, primary_key, secondary_key, rights FROM policies"

func getPolicy(ctx context.Context, q querier, name string) (Policy, error) {
	rows, err := q.QueryContext(ctx, policyColumns+" WHERE name = ?", name)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy %q: %w", name, err)
	}
	ps, err := scanPolicies(rows)
	if err != nil {
		return Policy{}, err
	}
	if len(ps) == 0 {
		return Policy{}, fmt.Errorf("policy %q: %w", name, ErrNotFound)
	}
	return ps[0], nil
}

// Policy returns a policy by name (compared without regard to case).
func (s *Store) Policy(ctx context.Context, name string) (Policy, error) {
	return getPolicy(ctx, s.r, name)
}

// Policies returns all policies in creation order.
func (s *Store) Policies(ctx context.Context) ([]Policy, error) {
	rows, err := s.r.QueryContext(ctx, policyColumns+" ORDER BY seq, name")
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	return scanPolicies(rows)
}

// PutPolicy creates or replaces a policy.
func (s *Store) PutPolicy(ctx context.Context, p Policy) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutPolicy(p) })
}

// DeletePolicy deletes a policy, or returns ErrNotFound.
func (s *Store) DeletePolicy(ctx context.Context, name string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeletePolicy(name) })
}

// Policy returns a policy inside the transaction.
func (tx *Tx) Policy(name string) (Policy, error) { return getPolicy(tx.ctx, tx.tx, name) }

// PutPolicy creates or replaces a policy inside the transaction.
func (tx *Tx) PutPolicy(p Policy) error {
	if p.Name == "" {
		return errors.New("policy has no name")
	}
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO policies (name, primary_key, secondary_key, rights, seq)
VALUES (?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM policies))
ON CONFLICT (name) DO UPDATE SET primary_key = excluded.primary_key, secondary_key = excluded.secondary_key, rights = excluded.rights`,
		p.Name, p.PrimaryKey, p.SecondaryKey, strings.Join(p.Rights, ","))
	if err != nil {
		return fmt.Errorf("write policy %q: %w", p.Name, err)
	}
	return nil
}

// DeletePolicy deletes a policy inside the transaction.
func (tx *Tx) DeletePolicy(name string) error {
	res, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM policies WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete policy %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("policy %q: %w", name, ErrNotFound)
	}
	return nil
}

// ---- linked IoT hubs

// LinkedHub is an IoT hub the service can assign devices to.
type LinkedHub struct {
	HostName              string
	ConnectionString      string
	AllocationWeight      int
	ApplyAllocationPolicy bool
}

const linkedHubColumns = "SELECT host_name, connection_string, allocation_weight, apply_allocation_policy FROM linked_hubs"

func getLinkedHubs(ctx context.Context, q querier) ([]LinkedHub, error) {
	rows, err := q.QueryContext(ctx, linkedHubColumns+" ORDER BY seq, host_name")
	if err != nil {
		return nil, fmt.Errorf("read linked hubs: %w", err)
	}
	defer rows.Close()
	var hs []LinkedHub
	for rows.Next() {
		var h LinkedHub
		if err := rows.Scan(&h.HostName, &h.ConnectionString, &h.AllocationWeight, &h.ApplyAllocationPolicy); err != nil {
			return nil, fmt.Errorf("read linked hubs: %w", err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read linked hubs: %w", err)
	}
	return hs, nil
}

// LinkedHubs returns the linked hubs in the order they were added.
func (s *Store) LinkedHubs(ctx context.Context) ([]LinkedHub, error) { return getLinkedHubs(ctx, s.r) }

// LinkedHub returns one linked hub by host name (compared without regard
// to case), or ErrNotFound.
func (s *Store) LinkedHub(ctx context.Context, hostName string) (LinkedHub, error) {
	var h LinkedHub
	err := s.r.QueryRowContext(ctx, linkedHubColumns+" WHERE host_name = ?", hostName).
		Scan(&h.HostName, &h.ConnectionString, &h.AllocationWeight, &h.ApplyAllocationPolicy)
	if errors.Is(err, sql.ErrNoRows) {
		return LinkedHub{}, fmt.Errorf("linked hub %q: %w", hostName, ErrNotFound)
	}
	if err != nil {
		return LinkedHub{}, fmt.Errorf("read linked hub %q: %w", hostName, err)
	}
	return h, nil
}

// PutLinkedHub adds or replaces a linked hub (keyed by host name).
func (s *Store) PutLinkedHub(ctx context.Context, h LinkedHub) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutLinkedHub(h) })
}

// DeleteLinkedHub removes a linked hub, or returns ErrNotFound.
func (s *Store) DeleteLinkedHub(ctx context.Context, hostName string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteLinkedHub(hostName) })
}

// LinkedHubs returns the linked hubs inside the transaction.
func (tx *Tx) LinkedHubs() ([]LinkedHub, error) { return getLinkedHubs(tx.ctx, tx.tx) }

// PutLinkedHub adds or replaces a linked hub inside the transaction. A
// replaced hub keeps its place in the order.
func (tx *Tx) PutLinkedHub(h LinkedHub) error {
	if h.HostName == "" {
		return errors.New("linked hub has no host name")
	}
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO linked_hubs (host_name, connection_string, allocation_weight, apply_allocation_policy, seq)
VALUES (?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM linked_hubs))
ON CONFLICT (host_name) DO UPDATE SET connection_string = excluded.connection_string,
	allocation_weight = excluded.allocation_weight, apply_allocation_policy = excluded.apply_allocation_policy`,
		h.HostName, h.ConnectionString, h.AllocationWeight, h.ApplyAllocationPolicy)
	if err != nil {
		return fmt.Errorf("write linked hub %q: %w", h.HostName, err)
	}
	return nil
}

// DeleteLinkedHub removes a linked hub inside the transaction, or returns
// ErrNotFound. The devices of its registry stay (as an IoT hub's devices
// outlive the link to a provisioning service).
func (tx *Tx) DeleteLinkedHub(hostName string) error {
	res, err := tx.tx.ExecContext(tx.ctx, "DELETE FROM linked_hubs WHERE host_name = ?", hostName)
	if err != nil {
		return fmt.Errorf("delete linked hub %q: %w", hostName, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("linked hub %q: %w", hostName, ErrNotFound)
	}
	return nil
}
