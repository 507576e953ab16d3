package service

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/jsonfmt"
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
	pageHeaders(w, itemType, size, tag, next)
	if items == nil {
		items = []T{}
	}
	httpapi.WriteJSONArray(w, http.StatusOK, items)
}

// writePageBytes is writePage for a body already encoded.
func writePageBytes(w http.ResponseWriter, itemType string, size int, tag string, next int64, body []byte) {
	pageHeaders(w, itemType, size, tag, next)
	httpapi.WriteJSONBytes(w, http.StatusOK, body)
}

func pageHeaders(w http.ResponseWriter, itemType string, size int, tag string, next int64) {
	h := w.Header()
	httpapi.SetHeader(h, httpapi.HeaderItemType, itemType)
	httpapi.SetHeader(h, httpapi.HeaderMaxItemCount, strconv.Itoa(size))
	if next != 0 {
		httpapi.SetHeader(h, httpapi.HeaderContinuation, encodeToken(tag, next))
	}
}

// listedPage is the body of a query page of enrollments or groups made
// from their stored documents: each as the store keeps it (the encoding
// of the entity, which is its MarshalJSON form), without the members a
// query leaves out (notListed), HTML escaped as json.Marshal escapes.
// That is the page runQuerySlow gives by decoding, stripping and encoding
// each entity again (TestListedPageMatchesDecodedPage), at a fraction of
// the cost. It reports false for a document it cannot read.
func listedPage(docs [][]byte) ([]byte, bool) {
	n := 2
	for _, d := range docs {
		n += len(d) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, d := range docs {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = jsonfmt.AppendCompactWithout(b, d, true, notListed); !ok {
			return nil, false
		}
	}
	return append(b, ']'), true
}

// notListed reports the members of a stored enrollment or group that a
// query does not return: the registration state, symmetric keys and
// certificate bodies (httpapi.StripSecrets).
func notListed(path [][]byte) bool {
	switch len(path) {
	case 1:
		return string(path[0]) == "registrationState"
	case 2:
		return string(path[0]) == "attestation" && string(path[1]) == "symmetricKey"
	case 5:
		return string(path[0]) == "attestation" && string(path[1]) == "x509" &&
			(string(path[2]) == "clientCertificates" || string(path[2]) == "signingCertificates") &&
			(string(path[3]) == "primary" || string(path[3]) == "secondary") &&
			string(path[4]) == "certificate"
	}
	return false
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
