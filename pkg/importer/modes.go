package importer

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// This file carries out the modes: create (and upsert) through bulk
// creates, update and the reconciling of existing enrollments, delete.

func plain(s *slot) model.IndividualEnrollment { return *s.item.Enrollment }

// createCall sends the create call of slots: their JSON as it is when
// every item carries it and the client takes it, else the enrollments.
func (r *run) createCall(slots []*slot) (map[string]itemError, error) {
	if c, ok := r.c.(JSONClient); ok && allEncoded(slots) {
		return r.bulkEncoded(c, model.BulkCreate, slots)
	}
	for _, s := range slots {
		if _, err := s.enrollment(); err != nil {
			s.set(Failed, CodeInvalid, err.Error())
		}
	}
	var live []*slot
	for _, s := range slots {
		if !s.done {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	return r.bulk(model.BulkCreate, live, plain)
}

func allEncoded(slots []*slot) bool {
	for _, s := range slots {
		if s.item.Enrollment != nil || s.item.JSON == nil {
			return false
		}
	}
	return true
}

func (r *run) create(slots []*slot) {
	fails, err := r.createCall(slots)
	if err != nil {
		r.failCall(slots, err)
		return
	}
	var existing []*slot
	for _, s := range slots {
		if s.done {
			continue
		}
		e, failed := fails[strings.ToLower(s.id)]
		switch {
		case !failed:
			s.set(Created, "", "")
		case httpStatus(e.code) == http.StatusConflict:
			existing = append(existing, s)
		case httpStatus(e.code) == http.StatusBadRequest && thumbprintOnly(s.decoded()):
			s.set(Failed, strconv.Itoa(e.code), "the enrollment does not exist and its certificate is given only as a sha256: thumbprint "+
				"(as exports write it); put the certificate file or PEM in the column to create it ("+e.status+")")
		default:
			s.failItem(e)
		}
	}
	if len(existing) > 0 {
		r.reconcile(existing, r.opts.Mode == ModeUpsert)
	}
}

// decoded is the item's enrollment, or nil when it cannot be decoded.
func (s *slot) decoded() *model.IndividualEnrollment {
	e, _ := s.enrollment()
	return e
}

func (r *run) update(slots []*slot) { r.reconcile(slots, true) }

func (r *run) delete(slots []*slot) {
	fails, err := r.bulk(model.BulkDelete, slots, func(s *slot) model.IndividualEnrollment {
		return model.IndividualEnrollment{RegistrationID: s.id}
	})
	if err != nil {
		r.failCall(slots, err)
		return
	}
	for _, s := range slots {
		if s.done {
			continue
		}
		e, failed := fails[strings.ToLower(s.id)]
		switch {
		case !failed:
			s.set(Deleted, "", "")
		case httpStatus(e.code) == http.StatusNotFound:
			s.set(Unchanged, "", "did not exist")
		default:
			s.failItem(e)
		}
	}
}

// maxUpdateRounds bounds the read-compare-write rounds of an enrollment
// that keeps changing under the import.
const maxUpdateRounds = 3

// reconcile reads the current enrollments of slots and compares them with
// the wanted ones: identical ones are unchanged; different ones are
// updated under the etag read when write is set, and conflicts otherwise.
func (r *run) reconcile(slots []*slot, write bool) {
	for round := 1; len(slots) > 0; round++ {
		type pendingUpdate struct {
			s    *slot
			body model.IndividualEnrollment
		}
		var updates []pendingUpdate
		for _, s := range slots {
			if r.ctx.Err() != nil {
				return
			}
			want, err := s.enrollment()
			if err != nil {
				s.set(Failed, CodeInvalid, err.Error())
				continue
			}
			cur, keys, err := r.current(want)
			if err != nil {
				if dps.IsNotFound(err) {
					if r.opts.Mode == ModeUpdate {
						s.set(Failed, errorCode(err), "the enrollment does not exist (update mode changes only existing enrollments)")
					} else {
						s.set(Failed, CodeConflict, "the enrollment was deleted while the import ran")
					}
					continue
				}
				r.failCall([]*slot{s}, err)
				continue
			}
			diff := Diff(want, cur, keys)
			if len(diff) == 0 {
				s.set(Unchanged, "", "")
				continue
			}
			if !write {
				s.set(Failed, CodeConflict, "an enrollment with this ID exists and differs in "+strings.Join(diff, ", ")+" (use --mode upsert to update it)")
				continue
			}
			body := *want
			body.ETag = cur.ETag
			keepUnknown(&body, cur)
			if body.Attestation != nil && body.Attestation.Type == model.AttestationSymmetricKey && keys != nil {
				// Send the current keys back rather than let the service
				// make new ones for a row that gave none.
				k := *body.Attestation.SymmetricKey
				if k.PrimaryKey == "" {
					k.PrimaryKey = keys.PrimaryKey
				}
				if k.SecondaryKey == "" {
					k.SecondaryKey = keys.SecondaryKey
				}
				a := *body.Attestation
				a.SymmetricKey = &k
				body.Attestation = &a
			}
			updates = append(updates, pendingUpdate{s, body})
		}
		if len(updates) == 0 {
			return
		}
		us := make([]*slot, len(updates))
		bodies := map[*slot]model.IndividualEnrollment{}
		for i, u := range updates {
			us[i] = u.s
			bodies[u.s] = u.body
		}
		fails, err := r.bulk(model.BulkUpdateIfMatchETag, us, func(s *slot) model.IndividualEnrollment { return bodies[s] })
		if err != nil {
			r.failCall(us, err)
			return
		}
		slots = nil
		for _, s := range us {
			if s.done {
				continue
			}
			e, failed := fails[strings.ToLower(s.id)]
			switch {
			case !failed:
				s.set(Updated, "", "")
			case httpStatus(e.code) == http.StatusPreconditionFailed && round < maxUpdateRounds:
				slots = append(slots, s) // changed meanwhile: read it again
			default:
				s.failItem(e)
			}
		}
	}
}

// current reads the enrollment the service holds for want's ID, with its
// symmetric keys when the comparison or the update needs them.
func (r *run) current(want *model.IndividualEnrollment) (*model.IndividualEnrollment, *model.SymmetricKeyAttestation, error) {
	var cur *model.IndividualEnrollment
	err := r.call(func(ctx context.Context) error {
		var err error
		cur, err = r.c.GetEnrollment(ctx, want.RegistrationID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if cur.Attestation == nil || cur.Attestation.Type != model.AttestationSymmetricKey ||
		want.Attestation == nil || want.Attestation.Type != model.AttestationSymmetricKey {
		return cur, nil, nil
	}
	var a *model.AttestationMechanism
	err = r.call(func(ctx context.Context) error {
		var err error
		a, err = r.c.GetEnrollmentAttestation(ctx, want.RegistrationID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return cur, a.SymmetricKey, nil
}

// thumbprintOnly reports an X.509 enrollment whose certificates are named
// by thumbprint only, which the service cannot create from.
func thumbprintOnly(e *model.IndividualEnrollment) bool {
	if e == nil {
		return false
	}
	return thumbprintOnlyCerts(e.Attestation, model.KindEnrollment)
}

// thumbprintOnlyCerts reports an X.509 attestation whose certificates (of
// the kind's slot) are named by thumbprint only.
func thumbprintOnlyCerts(a *model.AttestationMechanism, kind model.EnrollmentKind) bool {
	if a == nil {
		return false
	}
	p, sec := certsOf(kind, a.X509)
	for _, c := range []*model.X509CertificateWithInfo{p, sec} {
		if c != nil && c.Certificate == "" && c.Info != nil {
			return true
		}
	}
	return false
}

// keepUnknown gives body the members of cur that dpsctl does not model
// (those of a newer API version, see model.Unknown) and body does not
// carry itself, at the top level and in an attestation mechanism of the
// same type, so an update keeps them.
func keepUnknown(body, cur *model.IndividualEnrollment) {
	body.Unknown = mergeUnknown(body.Unknown, cur.Unknown)
	if a, c := body.Attestation, cur.Attestation; a != nil && c != nil && a.Type == c.Type && len(c.Unknown) > 0 {
		copied := *a
		copied.Unknown = mergeUnknown(a.Unknown, c.Unknown)
		body.Attestation = &copied
	}
}

// mergeUnknown returns own and the members of held own has no member of
// the same name for.
func mergeUnknown(own, held model.Unknown) model.Unknown {
	if len(held) == 0 {
		return own
	}
	out := own[:len(own):len(own)]
	for _, m := range held {
		if own.Lookup(m.Name()) == nil {
			out = append(out, m)
		}
	}
	return out
}
