package service

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// MaxPageSize is the largest query page (the service caps pages at 100).
const MaxPageSize = 100

// checkQueryBody accepts an empty body or a QuerySpecification. The query
// text itself is not evaluated: the service ignores it too.
func checkQueryBody(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var q model.QuerySpecification
	return httpapi.DecodeJSON(b, &q)
}

// pageRequest reads x-ms-max-item-count and x-ms-continuation.
func pageRequest(r *http.Request, tag string) (size int, after int64, err error) {
	size = MaxPageSize
	if v := strings.TrimSpace(r.Header.Get(httpapi.HeaderMaxItemCount)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, httpapi.BadRequest("x-ms-max-item-count %q is not a positive integer", v)
		}
		size = min(n, MaxPageSize)
	}
	if v := strings.TrimSpace(r.Header.Get(httpapi.HeaderContinuation)); v != "" {
		after, err = decodeToken(tag, v)
		if err != nil {
			return 0, 0, err
		}
	}
	return size, after, nil
}

// Continuation tokens are opaque to clients: base64url of "<tag>:<cursor>".
func encodeToken(tag string, cursor int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + ":" + strconv.FormatInt(cursor, 10)))
}

func decodeToken(tag, tok string) (int64, error) {
	bad := httpapi.BadRequest("the continuation token is not valid for this query")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil {
		return 0, bad
	}
	t, c, ok := strings.Cut(string(raw), ":")
	if !ok || t != tag {
		return 0, bad
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, bad
	}
	return n, nil
}

// writePage answers a query with one page of items and the paging headers.
func writePage[T any](w http.ResponseWriter, itemType string, size int, tag string, next int64, items []T) {
	h := w.Header()
	httpapi.SetHeader(h, httpapi.HeaderItemType, itemType)
	httpapi.SetHeader(h, httpapi.HeaderMaxItemCount, strconv.Itoa(size))
	if next != 0 {
		httpapi.SetHeader(h, httpapi.HeaderContinuation, encodeToken(tag, next))
	}
	if items == nil {
		items = []T{}
	}
	httpapi.WriteJSONArray(w, http.StatusOK, items)
}

// ---- registration states

const registrationTokenTag = "r"

func (h *API) runGetRegistration(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID("registration id", req.id); err != nil {
		return err
	}
	reg, err := h.st.Registration(ctx, req.id)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(model.ErrRegistrationNotFound, "%s does not exist", describe("registration", req.id))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, &reg.State)
	return nil
}

func (h *API) runDeleteRegistration(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID("registration id", req.id); err != nil {
		return err
	}
	err := h.st.Update(ctx, func(tx *store.Tx) error {
		return tx.DeleteRegistration(req.id, httpapi.IfMatch(req.r))
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Errorf(model.ErrRegistrationNotFound, "%s does not exist", describe("registration", req.id))
	case errors.Is(err, store.ErrETagMismatch):
		return httpapi.Errorf(model.ErrPreconditionFailed, "the etag in If-Match does not match the current etag of %s", describe("registration", req.id))
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// runQueryRegistrations lists the registrations of one enrollment group.
// The body is optional (the C SDK and the CLI send none, Node sends a
// QuerySpecification). An unknown group has no registrations.
func (h *API) runQueryRegistrations(ctx context.Context, w http.ResponseWriter, req *request) error {
	if err := httpapi.ValidateID("enrollment group id", req.id); err != nil {
		return err
	}
	if err := checkQueryBody(req.body); err != nil {
		return err
	}
	size, after, err := pageRequest(req.r, registrationTokenTag)
	if err != nil {
		return err
	}
	page, err := h.st.ListRegistrations(ctx, req.id, after, size)
	if err != nil {
		return err
	}
	items := make([]*model.DeviceRegistrationState, len(page.Items))
	for i, r := range page.Items {
		items[i] = &r.State
	}
	writePage(w, model.ItemTypeDeviceRegistration, size, registrationTokenTag, page.Next, items)
	return nil
}
