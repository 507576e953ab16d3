package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/jsonfmt"
	"github.com/dpsctl/dpsctl/pkg/model"
	fastjson "github.com/segmentio/encoding/json"
)

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	// Next is the cursor to pass as "after" for the following page; 0 when
	// this page is the last one.
	Next int64
}

// Registration is a stored registration state. EnrollmentGroupID names the
// group the device registered through; it is empty for devices registered
// through an individual enrollment.
//
// The other fields belong to the device registration API: the registration
// record doubles as the record of the device's latest register operation,
// so that a poll (GET …/operations/{operationId}) in any process sharing the
// data directory finds it.
type Registration struct {
	State             model.DeviceRegistrationState
	EnrollmentGroupID string

	// OperationID is the id of the latest register operation.
	OperationID string
	// Result is the device's view of the registration (what the operation
	// status and the status lookup return).
	Result *model.DeviceRegistrationResult
	// AuthKeys are the base64 keys the device may sign its SAS tokens with
	// while it polls (its enrollment or derived key; for TPM the challenge
	// key and the hub key).
	AuthKeys []string
	// AuthThumbprint is the SHA-256 thumbprint of the X.509 certificate the
	// device registered with.
	AuthThumbprint string
}

func decode[T any](t *entityTable, doc []byte) (*T, error) {
	v := new(T)
	if err := fastjson.Unmarshal(doc, v); err != nil {
		return nil, fmt.Errorf("stored %s is corrupt: %w", t.kind, err)
	}
	return v, nil
}

func decodePage[T any](t *entityTable, docs [][]byte, next int64) (Page[*T], error) {
	p := Page[*T]{Items: make([]*T, 0, len(docs)), Next: next}
	for _, d := range docs {
		v, err := decode[T](t, d)
		if err != nil {
			return Page[*T]{}, err
		}
		p.Items = append(p.Items, v)
	}
	return p, nil
}

// Documents are encoded and decoded with github.com/segmentio/encoding/json:
// the same output and semantics as encoding/json (FuzzDocumentCodec holds
// it to that) at a third of the cost to decode, which listing thousands of
// enrollments and the bulk writes feel.
//
// Enrollments and groups, whose MarshalJSON writes them, skip the encoder's
// second pass over that output (jsonfmt.Marshal): the same bytes, held to
// encoding/json by FuzzDocumentCodec.
func encode(kind string, v any) ([]byte, error) {
	if b, ok := jsonfmt.Marshal(v); ok {
		return b, nil
	}
	b, err := fastjson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	return b, nil
}

func requireID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("%s has no id", kind)
	}
	return nil
}

// ---- individual enrollments

// Enrollment returns the stored enrollment (keys and certificates included).
func (s *Store) Enrollment(ctx context.Context, id string) (*model.IndividualEnrollment, error) {
	doc, err := s.enrollments.read(ctx, id)
	if err != nil {
		return nil, err
	}
	return decode[model.IndividualEnrollment](s.enrollments, doc)
}

// ListEnrollments returns up to limit enrollments in insertion order, after
// the cursor (0 for the first page).
func (s *Store) ListEnrollments(ctx context.Context, after int64, limit int) (Page[*model.IndividualEnrollment], error) {
	docs, next, err := s.enrollments.page(ctx, nil, after, limit)
	if err != nil {
		return Page[*model.IndividualEnrollment]{}, err
	}
	return decodePage[model.IndividualEnrollment](s.enrollments, docs, next)
}

// ListEnrollmentDocs is ListEnrollments without decoding: each enrollment
// as the store keeps it, the JSON that EncodeEnrollment wrote.
func (s *Store) ListEnrollmentDocs(ctx context.Context, after int64, limit int) (Page[[]byte], error) {
	docs, next, err := s.enrollments.page(ctx, nil, after, limit)
	return Page[[]byte]{Items: docs, Next: next}, err
}

// CountEnrollments returns the number of enrollments.
func (s *Store) CountEnrollments(ctx context.Context) (int, error) {
	return s.enrollments.countRows(ctx)
}

// PutEnrollment stores e as is (the caller fills etag and timestamps) under
// the precondition ifMatch; see Tx.PutEnrollment.
func (s *Store) PutEnrollment(ctx context.Context, e *model.IndividualEnrollment, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutEnrollment(e, ifMatch) })
}

// DeleteEnrollment deletes an enrollment; see Tx.DeleteEnrollment.
func (s *Store) DeleteEnrollment(ctx context.Context, id, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteEnrollment(id, ifMatch) })
}

// Enrollment reads an enrollment inside the transaction.
func (tx *Tx) Enrollment(id string) (*model.IndividualEnrollment, error) {
	doc, err := tx.s.enrollments.txRead(tx, id)
	if err != nil {
		return nil, err
	}
	return decode[model.IndividualEnrollment](tx.s.enrollments, doc)
}

// PutEnrollment writes e under the precondition ifMatch:
//
//   - "": create only; ErrExists when the id is taken.
//   - MatchAny ("*"): create or replace.
//   - an etag: replace the stored enrollment only if it carries this etag;
//     ErrETagMismatch if it carries another, ErrNotFound if there is none.
//
// The document is stored as given: the caller sets e.ETag and the
// timestamps. A replaced enrollment keeps its place in listings.
func (tx *Tx) PutEnrollment(e *model.IndividualEnrollment, ifMatch string) error {
	if err := requireID("enrollment", e.RegistrationID); err != nil {
		return err
	}
	doc, err := encode("enrollment", e)
	if err != nil {
		return err
	}
	return tx.s.enrollments.txPut(tx, e.RegistrationID, "", e.ETag, doc, ifMatch)
}

// DeleteEnrollment deletes id: ErrNotFound if it does not exist,
// ErrETagMismatch if ifMatch is an etag other than the stored one ("" and
// MatchAny delete unconditionally).
func (tx *Tx) DeleteEnrollment(id, ifMatch string) error {
	return tx.s.enrollments.txDelete(tx, id, ifMatch)
}

// ---- enrollment groups

// EnrollmentGroup returns the stored group (keys and certificates included).
func (s *Store) EnrollmentGroup(ctx context.Context, id string) (*model.EnrollmentGroup, error) {
	doc, err := s.groups.read(ctx, id)
	if err != nil {
		return nil, err
	}
	return decode[model.EnrollmentGroup](s.groups, doc)
}

// ListEnrollmentGroups returns up to limit groups in insertion order.
func (s *Store) ListEnrollmentGroups(ctx context.Context, after int64, limit int) (Page[*model.EnrollmentGroup], error) {
	docs, next, err := s.groups.page(ctx, nil, after, limit)
	if err != nil {
		return Page[*model.EnrollmentGroup]{}, err
	}
	return decodePage[model.EnrollmentGroup](s.groups, docs, next)
}

// ListEnrollmentGroupDocs is ListEnrollmentGroups without decoding, as
// ListEnrollmentDocs.
func (s *Store) ListEnrollmentGroupDocs(ctx context.Context, after int64, limit int) (Page[[]byte], error) {
	docs, next, err := s.groups.page(ctx, nil, after, limit)
	return Page[[]byte]{Items: docs, Next: next}, err
}

// CountEnrollmentGroups returns the number of enrollment groups.
func (s *Store) CountEnrollmentGroups(ctx context.Context) (int, error) {
	return s.groups.countRows(ctx)
}

// PutEnrollmentGroup stores g; see Tx.PutEnrollmentGroup.
func (s *Store) PutEnrollmentGroup(ctx context.Context, g *model.EnrollmentGroup, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutEnrollmentGroup(g, ifMatch) })
}

// DeleteEnrollmentGroup deletes a group; see Tx.DeleteEnrollmentGroup.
func (s *Store) DeleteEnrollmentGroup(ctx context.Context, id, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteEnrollmentGroup(id, ifMatch) })
}

// EnrollmentGroup reads a group inside the transaction.
func (tx *Tx) EnrollmentGroup(id string) (*model.EnrollmentGroup, error) {
	doc, err := tx.s.groups.txRead(tx, id)
	if err != nil {
		return nil, err
	}
	return decode[model.EnrollmentGroup](tx.s.groups, doc)
}

// PutEnrollmentGroup writes g with the preconditions of PutEnrollment.
func (tx *Tx) PutEnrollmentGroup(g *model.EnrollmentGroup, ifMatch string) error {
	if err := requireID("enrollment group", g.EnrollmentGroupID); err != nil {
		return err
	}
	doc, err := encode("enrollment group", g)
	if err != nil {
		return err
	}
	return tx.s.groups.txPut(tx, g.EnrollmentGroupID, "", g.ETag, doc, ifMatch)
}

// DeleteEnrollmentGroup deletes a group with the rules of DeleteEnrollment.
func (tx *Tx) DeleteEnrollmentGroup(id, ifMatch string) error {
	return tx.s.groups.txDelete(tx, id, ifMatch)
}

// ---- registration states

// Registration returns the registration state of a registration id.
func (s *Store) Registration(ctx context.Context, id string) (*Registration, error) {
	doc, err := s.registrations.read(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeRegistration(s.registrations, doc)
}

// ListRegistrations returns up to limit registration states in insertion
// order: those of one enrollment group (compared without regard to case),
// or all of them when groupID is empty.
func (s *Store) ListRegistrations(ctx context.Context, groupID string, after int64, limit int) (Page[*Registration], error) {
	var g *string
	if groupID != "" {
		g = &groupID
	}
	docs, next, err := s.registrations.page(ctx, g, after, limit)
	if err != nil {
		return Page[*Registration]{}, err
	}
	p := Page[*Registration]{Items: make([]*Registration, 0, len(docs)), Next: next}
	for _, d := range docs {
		r, err := decodeRegistration(s.registrations, d)
		if err != nil {
			return Page[*Registration]{}, err
		}
		p.Items = append(p.Items, r)
	}
	return p, nil
}

// CountRegistrations returns the number of registration states.
func (s *Store) CountRegistrations(ctx context.Context) (int, error) {
	return s.registrations.countRows(ctx)
}

// PutRegistration stores r; see Tx.PutRegistration.
func (s *Store) PutRegistration(ctx context.Context, r *Registration, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.PutRegistration(r, ifMatch) })
}

// DeleteRegistration deletes a registration state; see Tx.DeleteRegistration.
func (s *Store) DeleteRegistration(ctx context.Context, id, ifMatch string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.DeleteRegistration(id, ifMatch) })
}

// Registration reads a registration state inside the transaction.
func (tx *Tx) Registration(id string) (*Registration, error) {
	doc, err := tx.s.registrations.txRead(tx, id)
	if err != nil {
		return nil, err
	}
	return decodeRegistration(tx.s.registrations, doc)
}

// PutRegistration writes r keyed by r.State.RegistrationID with the
// preconditions of PutEnrollment.
func (tx *Tx) PutRegistration(r *Registration, ifMatch string) error {
	if err := requireID("registration", r.State.RegistrationID); err != nil {
		return err
	}
	doc, err := encode("registration", storedRegistration{
		State: &r.State, EnrollmentGroupID: r.EnrollmentGroupID,
		OperationID: r.OperationID, Result: r.Result, AuthKeys: r.AuthKeys, AuthThumbprint: r.AuthThumbprint,
	})
	if err != nil {
		return err
	}
	return tx.s.registrations.txPut(tx, r.State.RegistrationID, r.EnrollmentGroupID, r.State.ETag, doc, ifMatch)
}

// DeleteRegistration deletes a registration state with the rules of
// DeleteEnrollment.
func (tx *Tx) DeleteRegistration(id, ifMatch string) error {
	return tx.s.registrations.txDelete(tx, id, ifMatch)
}

// storedRegistration is the document of a registrations row: the wire state
// plus the group it came through.
type storedRegistration struct {
	State             *model.DeviceRegistrationState  `json:"state"`
	EnrollmentGroupID string                          `json:"enrollmentGroupId,omitempty"`
	OperationID       string                          `json:"operationId,omitempty"`
	Result            *model.DeviceRegistrationResult `json:"result,omitempty"`
	AuthKeys          []string                        `json:"authKeys,omitempty"`
	AuthThumbprint    string                          `json:"authThumbprint,omitempty"`
}

func decodeRegistration(t *entityTable, doc []byte) (*Registration, error) {
	var sr storedRegistration
	if err := fastjson.Unmarshal(doc, &sr); err != nil {
		return nil, fmt.Errorf("stored %s is corrupt: %w", t.kind, err)
	}
	if sr.State == nil {
		return nil, fmt.Errorf("stored %s is corrupt: %w", t.kind, errors.New("no state"))
	}
	return &Registration{
		State: *sr.State, EnrollmentGroupID: sr.EnrollmentGroupID,
		OperationID: sr.OperationID, Result: sr.Result, AuthKeys: sr.AuthKeys, AuthThumbprint: sr.AuthThumbprint,
	}, nil
}
