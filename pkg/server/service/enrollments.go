package service

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/groupcommit"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// MaxBulkItems is the most entities one bulk call may carry.
const MaxBulkItems = 10

// kind serves one kind of enrollment: individual enrollments or enrollment
// groups. What the kinds share the operations reach through
// model.Enrollable; the store keeps each kind under its own methods.
type kind[T any, P model.EnrollablePointer[T]] struct {
	h        *API
	tokenTag string // continuation token prefix

	get      func(ctx context.Context, id string) (*T, error)
	list     func(ctx context.Context, after int64, limit int) (store.Page[*T], error)
	listDocs func(ctx context.Context, after int64, limit int) (store.Page[[]byte], error)
	txGet    func(tx *store.Tx, id string) (*T, error)
	txPut    func(tx *store.Tx, v *T, ifMatch string) error
	txDelete func(tx *store.Tx, id, ifMatch string) error
	// encode and txInsert are the batch write of bulk creates: entities
	// completed and encoded outside the transaction, inserted unless their
	// id is taken.
	encode   func(v *T) (store.Encoded, error)
	txInsert func(tx *store.Tx, rows []store.Encoded) ([]bool, error)
	// writes commits the bulk calls that arrive together in one
	// transaction.
	writes *groupcommit.BulkWriter
}

func newEnrollmentKind(h *API) *kind[model.IndividualEnrollment, *model.IndividualEnrollment] {
	st := h.st
	return &kind[model.IndividualEnrollment, *model.IndividualEnrollment]{
		h: h, tokenTag: "e",
		get:      st.Enrollment,
		list:     st.ListEnrollments,
		listDocs: st.ListEnrollmentDocs,
		txGet:    (*store.Tx).Enrollment,
		txPut:    (*store.Tx).PutEnrollment,
		txDelete: (*store.Tx).DeleteEnrollment,
		encode:   store.EncodeEnrollment,
		txInsert: (*store.Tx).InsertEnrollments,
		writes:   groupcommit.NewBulkWriter(st),
	}
}

func newGroupKind(h *API) *kind[model.EnrollmentGroup, *model.EnrollmentGroup] {
	st := h.st
	return &kind[model.EnrollmentGroup, *model.EnrollmentGroup]{
		h: h, tokenTag: "g",
		get:      st.EnrollmentGroup,
		list:     st.ListEnrollmentGroups,
		listDocs: st.ListEnrollmentGroupDocs,
		txGet:    (*store.Tx).EnrollmentGroup,
		txPut:    (*store.Tx).PutEnrollmentGroup,
		txDelete: (*store.Tx).DeleteEnrollmentGroup,
		encode:   store.EncodeEnrollmentGroup,
		txInsert: (*store.Tx).InsertEnrollmentGroups,
		writes:   groupcommit.NewBulkWriter(st),
	}
}

// what returns the model's kind of T.
func (*kind[T, P]) what() model.EnrollmentKind {
	var p P
	return p.Kind()
}

// name calls the kind in messages: "enrollment" or "enrollment group".
func (k *kind[T, P]) name() string { return k.what().String() }

// load reads an entity, mapping a missing one to the kind's 404.
func (k *kind[T, P]) load(ctx context.Context, id string) (*T, error) {
	v, err := k.get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.Errorf(k.what().NotFoundCode(), "%s does not exist", describe(k.name(), id))
	}
	return v, err
}

func (k *kind[T, P]) runGet(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID(k.name()+" id", req.id); err != nil {
		return err
	}
	v, err := k.load(ctx, req.id)
	if err != nil {
		return err
	}
	httpapi.StripSecrets(P(v).Common().Attestation)
	if e, ok := any(v).(*model.IndividualEnrollment); ok {
		reg, err := k.h.st.Registration(ctx, req.id)
		switch {
		case err == nil:
			e.RegistrationState = &reg.State
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (k *kind[T, P]) runAttestation(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID(k.name()+" id", req.id); err != nil {
		return err
	}
	v, err := k.load(ctx, req.id)
	if err != nil {
		return err
	}
	a := P(v).Common().Attestation
	if a == nil {
		a = &model.AttestationMechanism{Type: model.AttestationNone}
	}
	httpapi.StripCertificates(a)
	httpapi.WriteJSON(w, http.StatusOK, a)
	return nil
}

// PUT semantics (see the package documentation): no If-Match creates and
// answers 409 for an existing id; If-Match "*" creates or replaces; an
// If-Match etag replaces only the entity carrying it (412 otherwise, also
// when there is no entity).
func (k *kind[T, P]) runPut(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID(k.name()+" id", req.id); err != nil {
		return err
	}
	v := new(T)
	if err := httpapi.DecodeJSON(req.body, v); err != nil {
		return err
	}
	e := P(v)
	switch id := e.ID(); {
	case id == "":
		return httpapi.Errorf(model.ErrInvalidRegistrationID, "%s is required in the body", k.what().IDMember())
	case !strings.EqualFold(id, req.id):
		return httpapi.BadRequest("%s %q in the body does not match %q in the path", k.what().IDMember(), id, req.id)
	}
	if err := validate(e); err != nil {
		return err
	}
	ifMatch := httpapi.IfMatch(req.r)
	err := k.h.st.Update(ctx, func(tx *store.Tx) error {
		return k.write(tx, v, ifMatch)
	})
	if err != nil {
		return k.writeError(req.id, ifMatch, err)
	}
	httpapi.StripCertificates(e.Common().Attestation)
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

// write completes v against the stored entity and stores it under the
// precondition ifMatch.
func (k *kind[T, P]) write(tx *store.Tx, v *T, ifMatch string) error {
	old, err := k.txGet(tx, P(v).ID())
	var stored *model.EnrollmentCommon
	switch {
	case err == nil:
		stored = P(old).Common()
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := complete(P(v).Common(), stored, k.h.now()); err != nil {
		return err
	}
	return k.txPut(tx, v, ifMatch)
}

// writeError maps a store error of a write to the service's answer.
func (k *kind[T, P]) writeError(id, ifMatch string, err error) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return httpapi.Errorf(model.ErrConflict, "%s already exists; to replace it send If-Match with its etag (or *)", describe(k.name(), id))
	case errors.Is(err, store.ErrETagMismatch):
		return httpapi.Errorf(model.ErrPreconditionFailed, "the etag in If-Match does not match the current etag of %s", describe(k.name(), id))
	case errors.Is(err, store.ErrNotFound) && ifMatch != "":
		return httpapi.Errorf(model.ErrPreconditionFailed, "If-Match names an etag but %s does not exist", describe(k.name(), id))
	}
	return err
}

func (k *kind[T, P]) runDelete(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID(k.name()+" id", req.id); err != nil {
		return err
	}
	err := k.h.st.Update(ctx, func(tx *store.Tx) error {
		return k.txDelete(tx, req.id, httpapi.IfMatch(req.r))
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Errorf(k.what().NotFoundCode(), "%s does not exist", describe(k.name(), req.id))
	case errors.Is(err, store.ErrETagMismatch):
		return httpapi.Errorf(model.ErrPreconditionFailed, "the etag in If-Match does not match the current etag of %s", describe(k.name(), req.id))
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (k *kind[T, P]) runQuery(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := checkQueryBody(req.body); err != nil {
		return err
	}
	size, after, err := pageRequest(req.r, k.tokenTag)
	if err != nil {
		return err
	}
	if docs, err := k.listDocs(ctx, after, size); err != nil {
		return err
	} else if body, ok := listedPage(docs.Items); ok {
		writePageBytes(w, k.what().ItemType(), size, k.tokenTag, docs.Next, body)
		return nil
	}
	return k.runQuerySlow(ctx, w, size, after)
}

// runQuerySlow answers a query page by decoding the stored entities,
// removing what reads never show and encoding them again: what
// listedPage does on the stored bytes, and the way for documents it
// refuses.
func (k *kind[T, P]) runQuerySlow(ctx context.Context, w http.ResponseWriter, size int, after int64) error {
	page, err := k.list(ctx, after, size)
	if err != nil {
		return err
	}
	for _, v := range page.Items {
		httpapi.StripSecrets(P(v).Common().Attestation)
		if e, ok := any(v).(*model.IndividualEnrollment); ok {
			e.RegistrationState = nil
		}
	}
	writePage(w, k.what().ItemType(), size, k.tokenTag, page.Next, page.Items)
	return nil
}

// bulkBody is the body of a bulk call; one of the lists is used.
type bulkBody[T any] struct {
	Mode             string `json:"mode"`
	Enrollments      []T    `json:"enrollments"`
	EnrollmentGroups []T    `json:"enrollmentGroups"`
}

// items returns the list of b that kind k uses, and its member name.
func (b *bulkBody[T]) items(k model.EnrollmentKind) (*[]T, string) {
	if k == model.KindGroup {
		return &b.EnrollmentGroups, "enrollmentGroups"
	}
	return &b.Enrollments, "enrollments"
}

// bulkResult is the wire result of a bulk call of kind k.
func bulkResult(k model.EnrollmentKind, errs []bulkItemError) any {
	if k == model.KindGroup {
		res := model.BulkEnrollmentGroupOperationResult{IsSuccessful: len(errs) == 0}
		for _, e := range errs {
			res.Errors = append(res.Errors, model.BulkEnrollmentGroupOperationError{EnrollmentGroupID: e.id, ErrorCode: e.code, ErrorStatus: e.msg})
		}
		return res
	}
	res := model.BulkEnrollmentOperationResult{IsSuccessful: len(errs) == 0}
	for _, e := range errs {
		res.Errors = append(res.Errors, model.BulkEnrollmentOperationError{RegistrationID: e.id, ErrorCode: e.code, ErrorStatus: e.msg})
	}
	return res
}

// bulkItemError is one failed item of a bulk call.
type bulkItemError struct {
	id   string
	code int
	msg  string
}

func bulkMode(m string) (string, bool) {
	for _, c := range []string{model.BulkCreate, model.BulkUpdate, model.BulkUpdateIfMatchETag, model.BulkDelete} {
		if strings.EqualFold(m, c) {
			return c, true
		}
	}
	return "", false
}

// runBulk applies up to MaxBulkItems writes. Items fail individually; the
// call answers 200 with the per-item errors.
//
// Everything that does not depend on the stored entities is done before
// the write transaction: decoding, validation and, for creates, the
// completion (keys, etag, timestamps) and encoding of each entity. The
// transaction of a create then only inserts the encoded rows, skipping ids
// that are taken (those answer 409). Bulk calls that arrive while another
// one is being written share the next transaction (group commit); each is
// answered after that transaction commits.
func (k *kind[T, P]) runBulk(ctx context.Context, w http.ResponseWriter, req *request) error {
	ticket := k.writes.Announce()
	defer ticket.Close()
	var body bulkBody[T]
	// Room for a full call, so that decoding does not grow the list.
	list, _ := body.items(k.what())
	*list = make([]T, 0, MaxBulkItems)
	if err := httpapi.DecodeJSON(req.body, &body); err != nil {
		return err
	}
	mode, ok := bulkMode(body.Mode)
	if !ok {
		if body.Mode == "" {
			return httpapi.BadRequest("mode is required (create, update, updateIfMatchETag or delete)")
		}
		return httpapi.BadRequest("mode %q is not valid; use create, update, updateIfMatchETag or delete", body.Mode)
	}
	list, listName := body.items(k.what())
	items := *list
	switch {
	case len(items) == 0:
		return httpapi.BadRequest("%s must list at least one %s", listName, k.name())
	case len(items) > MaxBulkItems:
		return httpapi.BadRequest("%s lists %d %ss; a bulk operation takes at most %d", listName, len(items), k.name(), MaxBulkItems)
	}
	itemErrs := make([]*bulkItemError, len(items))
	fail := func(i int, id string, err error) error {
		if err == nil {
			return nil
		}
		ae, ok := httpapi.AsError(err)
		if !ok {
			return err
		}
		itemErrs[i] = &bulkItemError{id: id, code: ae.Code, msg: ae.Msg}
		return nil
	}
	ifMatches := make([]string, len(items))
	for i := range items {
		e := P(&items[i])
		id := e.ID()
		err := httpapi.ValidateID(k.name()+" id", id)
		if err == nil && mode != model.BulkDelete {
			err = validate(e)
		}
		switch mode {
		case model.BulkCreate:
			ifMatches[i] = ""
		case model.BulkUpdate:
			ifMatches[i] = store.MatchAny
		case model.BulkUpdateIfMatchETag:
			ifMatches[i] = httpapi.StripETagQuotes(e.Common().ETag)
			if ifMatches[i] == "" {
				ifMatches[i] = store.MatchAny
			}
		}
		if err := fail(i, id, err); err != nil {
			return err
		}
	}
	// rows[i] is the encoded entity of a create that needs nothing from a
	// stored entity; the other items are written by k.write inside the
	// transaction.
	rows := make([]*store.Encoded, len(items))
	if mode == model.BulkCreate {
		now := k.h.now()
		for i := range items {
			e := P(&items[i])
			if itemErrs[i] != nil || needsStored(e.Common()) {
				continue
			}
			if err := complete(e.Common(), nil, now); err != nil {
				if err := fail(i, e.ID(), err); err != nil {
					return err
				}
				continue
			}
			enc, err := k.encode(&items[i])
			if err != nil {
				return err
			}
			rows[i] = &enc
		}
	}
	checked := slices.Clone(itemErrs)
	err := k.writes.Do(ctx, ticket, func(tx *store.Tx) error {
		// The batcher may run this twice (the second time alone).
		copy(itemErrs, checked)
		var run []store.Encoded
		var runAt []int
		insert := func() error {
			if len(run) == 0 {
				return nil
			}
			created, err := k.txInsert(tx, run)
			if err != nil {
				return err
			}
			for j, ok := range created {
				if !ok {
					i := runAt[j]
					id := P(&items[i]).ID()
					if err := fail(i, id, k.writeError(id, "", store.ErrExists)); err != nil {
						return err
					}
				}
			}
			run, runAt = run[:0], runAt[:0]
			return nil
		}
		for i := range items {
			if itemErrs[i] != nil {
				continue
			}
			if rows[i] != nil {
				run = append(run, *rows[i])
				runAt = append(runAt, i)
				continue
			}
			// Keep the order of the items: an id may come twice.
			if err := insert(); err != nil {
				return err
			}
			id := P(&items[i]).ID()
			var err error
			if mode == model.BulkDelete {
				err = k.txDelete(tx, id, "")
				if errors.Is(err, store.ErrNotFound) {
					err = httpapi.Errorf(k.what().NotFoundCode(), "%s does not exist", describe(k.name(), id))
				}
			} else {
				err = k.writeError(id, ifMatches[i], k.write(tx, &items[i], ifMatches[i]))
			}
			if err := fail(i, id, err); err != nil {
				return err
			}
		}
		return insert()
	})
	if err != nil {
		return err
	}
	var errs []bulkItemError
	for _, e := range itemErrs {
		if e != nil {
			errs = append(errs, *e)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, bulkResult(k.what(), errs))
	return nil
}
