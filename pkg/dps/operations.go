package dps

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// QueryOptions tunes a query.
type QueryOptions struct {
	// PageSize is sent as x-ms-max-item-count; 0 leaves it to the service (100).
	PageSize int
}

// Page is one page of a query. Continuation is empty on the last page.
type Page[T any] struct {
	Items        []T
	Continuation string
}

// QueryText is the query sent; the service does not evaluate it.
const QueryText = "SELECT *"

// ---- individual enrollments

// GetEnrollment reads an individual enrollment (symmetric keys stripped).
func (c *Client) GetEnrollment(ctx context.Context, id string) (*model.IndividualEnrollment, error) {
	return get[model.IndividualEnrollment](ctx, c, "/enrollments/"+pathEscape(id), "enrollment")
}

// PutEnrollment creates or replaces an enrollment. ifMatch "" creates (the
// service answers 409 if it exists), "*" replaces any version, anything else
// replaces only that version (412 otherwise).
func (c *Client) PutEnrollment(ctx context.Context, e *model.IndividualEnrollment, ifMatch string) (*model.IndividualEnrollment, error) {
	if e == nil || e.RegistrationID == "" {
		return nil, fmt.Errorf("dps: enrollment has no registrationId")
	}
	return put[model.IndividualEnrollment](ctx, c, "/enrollments/"+pathEscape(e.RegistrationID), e, ifMatch, "enrollment")
}

// DeleteEnrollment deletes an enrollment; ifMatch "" deletes unconditionally.
func (c *Client) DeleteEnrollment(ctx context.Context, id, ifMatch string) error {
	return c.del(ctx, "/enrollments/"+pathEscape(id), ifMatch)
}

// GetEnrollmentAttestation reads the attestation mechanism, keys included.
func (c *Client) GetEnrollmentAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error) {
	return c.attestation(ctx, "/enrollments/"+pathEscape(id)+"/attestationmechanism")
}

// QueryEnrollmentsPage fetches one page of enrollments.
func (c *Client) QueryEnrollmentsPage(ctx context.Context, opts QueryOptions, continuation string) (Page[model.IndividualEnrollment], error) {
	return queryPage[model.IndividualEnrollment](ctx, c, "/enrollments/query", opts, continuation, true)
}

// Enrollments streams every enrollment, two pages in memory at most (the
// next is fetched while one is consumed).
func (c *Client) Enrollments(ctx context.Context, opts QueryOptions) iter.Seq2[model.IndividualEnrollment, error] {
	return all(ctx, func(ctx context.Context, cont string) (Page[model.IndividualEnrollment], error) {
		return c.QueryEnrollmentsPage(ctx, opts, cont)
	})
}

// BulkEnrollments runs one bulk operation (at most 10 items per call on DPS).
func (c *Client) BulkEnrollments(ctx context.Context, mode string, items []model.IndividualEnrollment) (*model.BulkEnrollmentOperationResult, error) {
	if items == nil {
		items = []model.IndividualEnrollment{}
	}
	return post[model.BulkEnrollmentOperationResult](ctx, c, "/enrollments", model.BulkEnrollmentOperation{Mode: mode, Enrollments: items}, "bulk result")
}

// EncodeEnrollment encodes e as BulkEnrollments sends it: its wire JSON,
// for BulkEnrollmentsJSON.
func EncodeEnrollment(e *model.IndividualEnrollment) ([]byte, error) { return marshal(e) }

// BulkEnrollmentsJSON is BulkEnrollments for enrollments already encoded
// as their wire JSON (each one JSON object, as json.Marshal of a
// model.IndividualEnrollment gives): the request body is assembled around
// them without decoding or encoding them again. A bulk import encodes
// every row while it checks the file and sends the encodings as they are.
func (c *Client) BulkEnrollmentsJSON(ctx context.Context, mode string, items [][]byte) (*model.BulkEnrollmentOperationResult, error) {
	modeJSON, err := marshal(mode)
	if err != nil {
		return nil, err
	}
	n := len(`{"mode":,"enrollments":[]}`) + len(modeJSON) + len(items)
	for _, it := range items {
		n += len(it)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"mode":`...)
	b = append(b, modeJSON...)
	b = append(b, `,"enrollments":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, "]}"...)
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/enrollments", body: b, hasBody: true})
	if err != nil {
		return nil, err
	}
	return decode[model.BulkEnrollmentOperationResult](r, "bulk result")
}

// ---- enrollment groups

// GetGroup reads an enrollment group (symmetric keys stripped).
func (c *Client) GetGroup(ctx context.Context, id string) (*model.EnrollmentGroup, error) {
	return get[model.EnrollmentGroup](ctx, c, "/enrollmentGroups/"+pathEscape(id), "enrollment group")
}

// PutGroup creates or replaces an enrollment group; ifMatch as PutEnrollment.
func (c *Client) PutGroup(ctx context.Context, g *model.EnrollmentGroup, ifMatch string) (*model.EnrollmentGroup, error) {
	if g == nil || g.EnrollmentGroupID == "" {
		return nil, fmt.Errorf("dps: enrollment group has no enrollmentGroupId")
	}
	return put[model.EnrollmentGroup](ctx, c, "/enrollmentGroups/"+pathEscape(g.EnrollmentGroupID), g, ifMatch, "enrollment group")
}

// DeleteGroup deletes an enrollment group.
func (c *Client) DeleteGroup(ctx context.Context, id, ifMatch string) error {
	return c.del(ctx, "/enrollmentGroups/"+pathEscape(id), ifMatch)
}

// GetGroupAttestation reads a group's attestation mechanism, keys included.
func (c *Client) GetGroupAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error) {
	return c.attestation(ctx, "/enrollmentGroups/"+pathEscape(id)+"/attestationmechanism")
}

// QueryGroupsPage fetches one page of enrollment groups.
func (c *Client) QueryGroupsPage(ctx context.Context, opts QueryOptions, continuation string) (Page[model.EnrollmentGroup], error) {
	return queryPage[model.EnrollmentGroup](ctx, c, "/enrollmentGroups/query", opts, continuation, true)
}

// Groups streams every enrollment group.
func (c *Client) Groups(ctx context.Context, opts QueryOptions) iter.Seq2[model.EnrollmentGroup, error] {
	return all(ctx, func(ctx context.Context, cont string) (Page[model.EnrollmentGroup], error) {
		return c.QueryGroupsPage(ctx, opts, cont)
	})
}

// BulkGroups runs one bulk operation on enrollment groups.
func (c *Client) BulkGroups(ctx context.Context, mode string, items []model.EnrollmentGroup) (*model.BulkEnrollmentGroupOperationResult, error) {
	if items == nil {
		items = []model.EnrollmentGroup{}
	}
	return post[model.BulkEnrollmentGroupOperationResult](ctx, c, "/enrollmentGroups", model.BulkEnrollmentGroupOperation{Mode: mode, EnrollmentGroups: items}, "bulk result")
}

// ---- registration states

// GetRegistration reads a device registration state.
func (c *Client) GetRegistration(ctx context.Context, id string) (*model.DeviceRegistrationState, error) {
	return get[model.DeviceRegistrationState](ctx, c, "/registrations/"+pathEscape(id), "registration state")
}

// DeleteRegistration deletes a device registration state.
func (c *Client) DeleteRegistration(ctx context.Context, id, ifMatch string) error {
	return c.del(ctx, "/registrations/"+pathEscape(id), ifMatch)
}

// QueryRegistrationsPage fetches one page of the registrations of a group.
// Like the C SDK and az, it sends no body.
func (c *Client) QueryRegistrationsPage(ctx context.Context, groupID string, opts QueryOptions, continuation string) (Page[model.DeviceRegistrationState], error) {
	return queryPage[model.DeviceRegistrationState](ctx, c, "/registrations/"+pathEscape(groupID)+"/query", opts, continuation, false)
}

// Registrations streams the registration states of an enrollment group.
func (c *Client) Registrations(ctx context.Context, groupID string, opts QueryOptions) iter.Seq2[model.DeviceRegistrationState, error] {
	return all(ctx, func(ctx context.Context, cont string) (Page[model.DeviceRegistrationState], error) {
		return c.QueryRegistrationsPage(ctx, groupID, opts, cont)
	})
}

// ---- plumbing

func get[T any](ctx context.Context, c *Client, path, what string) (*T, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	return decode[T](r, what)
}

func put[T any](ctx context.Context, c *Client, path string, v any, ifMatch, what string) (*T, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, request{method: http.MethodPut, path: path, body: b, hasBody: true, header: ifMatchHeader(ifMatch)})
	if err != nil {
		return nil, err
	}
	return decode[T](r, what)
}

func post[T any](ctx context.Context, c *Client, path string, v any, what string) (*T, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, request{method: http.MethodPost, path: path, body: b, hasBody: true})
	if err != nil {
		return nil, err
	}
	return decode[T](r, what)
}

func (c *Client) del(ctx context.Context, path, ifMatch string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path, header: ifMatchHeader(ifMatch)})
	return err
}

func (c *Client) attestation(ctx context.Context, path string) (*model.AttestationMechanism, error) {
	r, err := c.do(ctx, request{method: http.MethodPost, path: path})
	if err != nil {
		return nil, err
	}
	return decode[model.AttestationMechanism](r, "attestation mechanism")
}

func queryPage[T any](ctx context.Context, c *Client, path string, opts QueryOptions, continuation string, withBody bool) (Page[T], error) {
	h := map[string]string{}
	if opts.PageSize > 0 {
		h["x-ms-max-item-count"] = strconv.Itoa(opts.PageSize)
	}
	if continuation != "" {
		h["x-ms-continuation"] = continuation
	}
	req := request{method: http.MethodPost, path: path, header: h}
	if withBody {
		b, _ := marshal(model.QuerySpecification{Query: QueryText})
		req.body, req.hasBody = b, true
	}
	r, err := c.do(ctx, req)
	if err != nil {
		return Page[T]{}, err
	}
	var items []T
	if len(r.body) > 0 {
		p, err := decode[[]T](r, "query page")
		if err != nil {
			return Page[T]{}, err
		}
		items = *p
	}
	next := r.header.Get("x-ms-continuation")
	if next == continuation && next != "" {
		return Page[T]{}, fmt.Errorf("dps: %s: the service returned the same continuation token twice", path)
	}
	return Page[T]{Items: items, Continuation: next}, nil
}

// all turns a page fetcher into an iterator that yields items as pages
// arrive. The next page is asked for as soon as a page names it, while the
// items of this one are consumed, so the service's work on a page overlaps
// the caller's on the one before. Stopping early cancels the page in
// flight.
func all[T any](ctx context.Context, fetch func(ctx context.Context, cont string) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		type result struct {
			page Page[T]
			err  error
		}
		next := make(chan result, 1)
		var inFlight sync.WaitGroup
		defer func() {
			cancel()
			inFlight.Wait()
		}()
		ask := func(cont string) {
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				p, err := fetch(ctx, cont)
				next <- result{p, err}
			}()
		}
		ask("")
		for {
			r := <-next
			if r.err != nil {
				var zero T
				yield(zero, r.err)
				return
			}
			if r.page.Continuation != "" {
				ask(r.page.Continuation)
			}
			for _, it := range r.page.Items {
				if !yield(it, nil) {
					return
				}
			}
			if r.page.Continuation == "" {
				return
			}
		}
	}
}
