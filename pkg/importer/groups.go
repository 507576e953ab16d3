package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Imports of enrollment groups. DPS has a bulk API for groups in its
// contract but no service implements it the same way, so groups are
// written one by one: a PUT each, --concurrency of them in flight, paced,
// retried and reconciled like the enrollments of a bulk import.

// GroupClient is the part of the service client an import of groups uses;
// *dps.Client satisfies it. Like a Client, it should return throttled
// answers rather than retry them itself.
type GroupClient interface {
	GetGroup(ctx context.Context, id string) (*model.EnrollmentGroup, error)
	PutGroup(ctx context.Context, g *model.EnrollmentGroup, ifMatch string) (*model.EnrollmentGroup, error)
	DeleteGroup(ctx context.Context, id, ifMatch string) error
	GetGroupAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error)
}

var _ GroupClient = (*dps.Client)(nil)

// RunGroups is Run for enrollment groups (the items' Group, or their JSON,
// and ID): the same modes, outcomes, pacing and retries, with one call per
// group instead of bulk calls (Options.BatchSize does not apply).
func RunGroups(ctx context.Context, c GroupClient, items iter.Seq[Item], opts Options, emit func(Result) error) (Summary, error) {
	opts.BatchSize = 1
	return start(ctx, &run{gc: c}, items, opts, emit)
}

// groupOf returns the item's group, decoding Item.JSON the first time it
// is needed.
func (s *slot) groupOf() (*model.EnrollmentGroup, error) {
	if s.item.Group == nil && s.item.JSON != nil {
		var g model.EnrollmentGroup
		if err := json.Unmarshal(s.item.JSON, &g); err != nil {
			return nil, fmt.Errorf("decoding the enrollment group: %w", err)
		}
		s.item.Group = &g
	}
	if s.item.Group == nil {
		return nil, fmt.Errorf("no enrollment group")
	}
	return s.item.Group, nil
}

// group writes one group as the mode says.
func (r *run) group(s *slot) {
	if r.opts.Mode == ModeDelete {
		r.deleteGroup(s)
		return
	}
	want, err := s.groupOf()
	if err != nil {
		s.set(Failed, CodeInvalid, err.Error())
		return
	}
	if r.opts.Mode == ModeUpdate {
		r.reconcileGroup(s, want, true)
		return
	}
	err = r.call(func(ctx context.Context) error {
		_, err := r.gc.PutGroup(ctx, want, "")
		return err
	})
	switch {
	case err == nil:
		s.set(Created, "", "")
	case dps.IsConflict(err):
		r.reconcileGroup(s, want, r.opts.Mode == ModeUpsert)
	case statusOf(err) == http.StatusBadRequest && thumbprintOnlyCerts(want.Attestation, model.KindGroup):
		s.set(Failed, errorCode(err), "the group does not exist and its certificate is given only as a sha256: thumbprint "+
			"(as exports write it); put the certificate file or PEM in the column to create it ("+errorMessage(err)+")")
	default:
		r.failCall([]*slot{s}, err)
	}
}

func statusOf(err error) int {
	if de, ok := asDPSError(err); ok {
		return de.StatusCode
	}
	return 0
}

func (r *run) deleteGroup(s *slot) {
	err := r.call(func(ctx context.Context) error { return r.gc.DeleteGroup(ctx, s.id, "") })
	switch {
	case err == nil:
		s.set(Deleted, "", "")
	case dps.IsNotFound(err):
		s.set(Unchanged, "", "did not exist")
	default:
		r.failCall([]*slot{s}, err)
	}
}

// reconcileGroup reads the group the service holds and compares it with
// want: identical is unchanged; different is updated under the etag read
// when write is set, and a conflict otherwise.
func (r *run) reconcileGroup(s *slot, want *model.EnrollmentGroup, write bool) {
	for round := 1; ; round++ {
		var cur *model.EnrollmentGroup
		err := r.call(func(ctx context.Context) error {
			var err error
			cur, err = r.gc.GetGroup(ctx, want.EnrollmentGroupID)
			return err
		})
		if dps.IsNotFound(err) {
			if r.opts.Mode == ModeUpdate {
				s.set(Failed, errorCode(err), "the enrollment group does not exist (update mode changes only existing groups)")
			} else {
				s.set(Failed, CodeConflict, "the enrollment group was deleted while the import ran")
			}
			return
		}
		if err != nil {
			r.failCall([]*slot{s}, err)
			return
		}
		var keys *model.SymmetricKeyAttestation
		if isSymmetric(cur.Attestation) && isSymmetric(want.Attestation) {
			var a *model.AttestationMechanism
			err := r.call(func(ctx context.Context) error {
				var err error
				a, err = r.gc.GetGroupAttestation(ctx, want.EnrollmentGroupID)
				return err
			})
			if err != nil {
				r.failCall([]*slot{s}, err)
				return
			}
			keys = a.SymmetricKey
		}
		diff := DiffEntity(want, cur, keys)
		if len(diff) == 0 {
			s.set(Unchanged, "", "")
			return
		}
		if !write {
			s.set(Failed, CodeConflict, "an enrollment group with this ID exists and differs in "+strings.Join(diff, ", ")+" (use --mode upsert to update it)")
			return
		}
		body := *want
		body.ETag = cur.ETag
		body.Attestation = withKeys(body.Attestation, keys)
		err = r.call(func(ctx context.Context) error {
			_, err := r.gc.PutGroup(ctx, &body, cur.ETag)
			return err
		})
		switch {
		case err == nil:
			s.set(Updated, "", "")
			return
		case dps.IsPreconditionFailed(err) && round < maxUpdateRounds:
			continue // changed meanwhile: read it again
		default:
			r.failCall([]*slot{s}, err)
			return
		}
	}
}

func isSymmetric(a *model.AttestationMechanism) bool {
	return a != nil && a.Type == model.AttestationSymmetricKey
}

// withKeys returns a with the keys it leaves out taken from keys, so that
// an update of a row that gave no keys keeps the service's rather than
// have it make new ones.
func withKeys(a *model.AttestationMechanism, keys *model.SymmetricKeyAttestation) *model.AttestationMechanism {
	if !isSymmetric(a) || keys == nil {
		return a
	}
	var k model.SymmetricKeyAttestation
	if a.SymmetricKey != nil {
		k = *a.SymmetricKey
	}
	if k.PrimaryKey == "" {
		k.PrimaryKey = keys.PrimaryKey
	}
	if k.SecondaryKey == "" {
		k.SecondaryKey = keys.SecondaryKey
	}
	out := *a
	out.SymmetricKey = &k
	return &out
}
