package importer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// This file makes the service calls of an import: the rate limit, the
// retries of transient failures, bulk calls and the failures they report.

// call runs fn paced by the pacer, with the retries of transient
// failures. A throttled call waits for the Retry-After the service asked
// for (the backoff when it asked for none) before it is tried again. A
// transient failure that outlasts the attempts stops the import.
func (r *run) call(fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		ticket, err := r.pace.acquire(r.ctx, r.opts.Sleep)
		if err != nil {
			return err
		}
		if r.ctx.Err() != nil {
			r.pace.release(ticket, callFailed)
			return r.ctx.Err()
		}
		r.requests.Add(1)
		err = fn(r.ctx)
		switch {
		case err == nil:
			r.pace.release(ticket, callOK)
			return nil
		case dps.IsThrottled(err):
			r.pace.release(ticket, callThrottled)
		default:
			r.pace.release(ticket, callFailed)
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		wait := time.Duration(0)
		if dps.IsThrottled(err) {
			r.throttled.Add(1)
			var de *dps.Error
			if errors.As(err, &de) {
				wait = de.RetryAfter
			}
		}
		if !transient(err) {
			if dps.IsUnauthorized(err) {
				r.stop(err)
			}
			return err
		}
		if attempt >= r.opts.Attempts {
			r.stop(fmt.Errorf("the service kept failing (%d attempts): %w", attempt, err))
			return err
		}
		r.retries.Add(1)
		if wait <= 0 {
			wait = r.opts.Backoff(attempt)
		}
		if err := r.opts.Sleep(r.ctx, wait); err != nil {
			return err
		}
	}
}

// transient reports failures worth retrying: throttling, server errors,
// timeouts and network failures (but not TLS verification failures).
func transient(err error) bool {
	var de *dps.Error
	if errors.As(err, &de) {
		return de.StatusCode == http.StatusTooManyRequests || de.StatusCode == http.StatusRequestTimeout || de.StatusCode >= 500
	}
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// asDPSError returns the service's answer err carries.
func asDPSError(err error) (*dps.Error, bool) {
	var de *dps.Error
	ok := errors.As(err, &de)
	return de, ok
}

// errorCode returns the code a failure is reported with.
func errorCode(err error) string {
	var de *dps.Error
	switch {
	case errors.As(err, &de) && de.ErrorCode != 0:
		return strconv.Itoa(de.ErrorCode)
	case errors.As(err, &de):
		return strconv.Itoa(de.StatusCode * 1000)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeInterrupted
	case transient(err):
		return CodeUnavailable
	}
	return "error"
}

// errorMessage is the message of a failure: the service's message when it
// gave one.
func errorMessage(err error) string {
	var de *dps.Error
	if errors.As(err, &de) && de.Message != "" {
		return de.Message
	}
	return err.Error()
}

// failCall sets the result of slots whose call failed as a whole.
func (r *run) failCall(slots []*slot, err error) {
	code, msg := errorCode(err), errorMessage(err)
	if code == CodeInterrupted {
		msg = "the call was interrupted (" + r.stopReason() + "); run the import again to finish"
	}
	for _, s := range slots {
		if !s.done {
			s.set(Failed, code, msg)
		}
	}
}

// itemError is one item's failure in a bulk answer.
type itemError struct {
	code   int
	status string
}

// bulk sends one bulk call and returns the failures by lower-case ID. A
// call rejected as a whole (400, 404, 413…) with several items is split
// into single-item calls so that each item gets its own answer.
func (r *run) bulk(mode string, slots []*slot, body func(*slot) model.IndividualEnrollment) (map[string]itemError, error) {
	send := func(ctx context.Context, slots []*slot) (*model.BulkEnrollmentOperationResult, error) {
		items := make([]model.IndividualEnrollment, len(slots))
		for i, s := range slots {
			items[i] = body(s)
		}
		return r.c.BulkEnrollments(ctx, mode, items)
	}
	return r.send(mode, slots, send)
}

// bulkEncoded is bulk for slots whose items all carry their JSON, sent as
// it is.
func (r *run) bulkEncoded(c JSONClient, mode string, slots []*slot) (map[string]itemError, error) {
	return r.send(mode, slots, func(ctx context.Context, slots []*slot) (*model.BulkEnrollmentOperationResult, error) {
		items := make([][]byte, len(slots))
		for i, s := range slots {
			items[i] = s.item.JSON
		}
		return c.BulkEnrollmentsJSON(ctx, mode, items)
	})
}

// send makes one bulk call with send and returns the failures by
// lower-case ID.
func (r *run) send(mode string, slots []*slot, send func(context.Context, []*slot) (*model.BulkEnrollmentOperationResult, error)) (map[string]itemError, error) {
	var res *model.BulkEnrollmentOperationResult
	err := r.call(func(ctx context.Context) error {
		var err error
		res, err = send(ctx, slots)
		return err
	})
	if err != nil {
		var de *dps.Error
		if len(slots) > 1 && errors.As(err, &de) && de.StatusCode >= 400 && de.StatusCode < 500 && !dps.IsUnauthorized(err) && !dps.IsThrottled(err) {
			fails := map[string]itemError{}
			for _, s := range slots {
				one, err := r.send(mode, []*slot{s}, send)
				if err != nil {
					r.failCall([]*slot{s}, err)
					continue
				}
				for k, v := range one {
					fails[k] = v
				}
			}
			return fails, nil
		}
		return nil, err
	}
	fails := map[string]itemError{}
	if res != nil {
		for _, e := range res.Errors {
			if e.ErrorCode >= 200 && e.ErrorCode < 300 || e.ErrorCode >= 200000 && e.ErrorCode < 300000 {
				continue // per-item success entries
			}
			fails[strings.ToLower(e.RegistrationID)] = itemError{code: e.ErrorCode, status: e.ErrorStatus}
		}
		if !res.IsSuccessful && len(fails) == 0 {
			return nil, fmt.Errorf("the service answered that the bulk %s did not succeed, without saying which items failed", mode)
		}
	}
	return fails, nil
}

func httpStatus(code int) int {
	if code >= 100000 {
		return code / 1000
	}
	return code
}

func (s *slot) failItem(e itemError) {
	msg := e.status
	if msg == "" {
		msg = http.StatusText(httpStatus(e.code))
	}
	s.set(Failed, strconv.Itoa(e.code), msg)
}
