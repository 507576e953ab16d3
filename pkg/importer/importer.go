// Package importer writes many individual enrollments through the bulk
// API: batches of at most ten, several batches in flight, a client-side
// rate ceiling, retries of transient failures (429, 5xx, network), and an
// outcome for every item, delivered in input order.
//
// Imports are idempotent. An item the service already holds is fetched and
// compared field by field (ignoring what the service fills in: etag,
// timestamps, certificate details, defaults): an identical enrollment is
// "unchanged" and is not written again, so re-running an interrupted import
// finishes the job without touching what the first run wrote.
//
// The modes:
//   - create: new enrollments are created; an existing identical one is
//     unchanged; an existing different one is a conflict (failed).
//   - upsert: as create, but a different existing enrollment is updated
//     under its etag (updateIfMatchETag), so a concurrent change is not
//     overwritten unseen.
//   - update: only existing enrollments; each is read, compared and, when
//     it differs, updated under the etag read; a missing one fails.
//   - delete: the enrollments are deleted; a missing one is unchanged.
package importer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Client is the part of the service client an import uses; *dps.Client
// satisfies it.
type Client interface {
	BulkEnrollments(ctx context.Context, mode string, items []model.IndividualEnrollment) (*model.BulkEnrollmentOperationResult, error)
	GetEnrollment(ctx context.Context, id string) (*model.IndividualEnrollment, error)
	GetEnrollmentAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error)
}

var _ Client = (*dps.Client)(nil)

// JSONClient is a Client that can also send enrollments already encoded as
// their wire JSON (see Item.JSON); *dps.Client is one.
type JSONClient interface {
	Client
	BulkEnrollmentsJSON(ctx context.Context, mode string, items [][]byte) (*model.BulkEnrollmentOperationResult, error)
}

var _ JSONClient = (*dps.Client)(nil)

// Mode says what an import does with each item.
type Mode string

// The modes.
const (
	ModeCreate Mode = "create"
	ModeUpsert Mode = "upsert"
	ModeUpdate Mode = "update"
	ModeDelete Mode = "delete"
)

// Modes lists the mode names, default first.
func Modes() []string {
	return []string{string(ModeCreate), string(ModeUpsert), string(ModeUpdate), string(ModeDelete)}
}

// Outcome is what happened to one item.
type Outcome string

// The outcomes.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Deleted   Outcome = "deleted"
	Failed    Outcome = "failed"
)

// Outcomes lists every outcome in report order.
func Outcomes() []Outcome { return []Outcome{Created, Updated, Unchanged, Deleted, Failed} }

// Error codes of failures the importer itself names. Failures the service
// reports carry its numeric error code (such as 409000) instead.
const (
	// CodeConflict: create found an enrollment with that ID that differs.
	CodeConflict = "conflict"
	// CodeInvalid: the item could not be built (Item.Err).
	CodeInvalid = "invalid"
	// CodeNotAttempted: the import stopped before the item was sent.
	CodeNotAttempted = "not-attempted"
	// CodeInterrupted: the call carrying the item was cut short; the
	// service may or may not have applied it.
	CodeInterrupted = "interrupted"
	// CodeUnavailable: the service could not be reached or kept failing.
	CodeUnavailable = "unavailable"
)

// Item is one enrollment to write.
type Item struct {
	// Line locates the item in its file (reported back in Result).
	Line int
	// ID is the registration ID reported when Enrollment is nil.
	ID string
	// Enrollment is what to write; for ModeDelete only its RegistrationID
	// matters.
	Enrollment *model.IndividualEnrollment
	// JSON, when Enrollment is nil, is the enrollment encoded as its wire
	// JSON (json.Marshal of a model.IndividualEnrollment) and ID is its
	// registration ID. A JSONClient sends it as it is in create calls; it
	// is decoded only where the import needs the fields (comparing with an
	// existing enrollment, updating one).
	JSON []byte
	// Err, when set, makes the item fail without being sent.
	Err error
}

// Result is the outcome of one item.
type Result struct {
	Line           int
	RegistrationID string
	Outcome        Outcome
	// ErrorCode is the service's error code or one of the Code constants;
	// empty unless the outcome is Failed (or a note explains Unchanged).
	ErrorCode string
	// Message says why, for failures and for some unchanged items.
	Message string
}

// MaxBatch is the most enrollments DPS takes in one bulk call.
const MaxBatch = 10

// Defaults of Options.
const (
	// DefaultConcurrency keeps enough calls in flight that a service
	// answering each in a few milliseconds is never idle waiting for the
	// next; a throttled one answers 429, which the import backs off from.
	DefaultConcurrency = 16
	DefaultAttempts    = 5
)

// Options tune an import.
type Options struct {
	Mode Mode
	// Concurrency is the number of batches in flight (DefaultConcurrency
	// when 0).
	Concurrency int
	// BatchSize is the number of items per bulk call, at most MaxBatch
	// (the default).
	BatchSize int
	// Rate caps the service calls per minute (0: no cap). Every call
	// counts: a bulk call, a read of an existing enrollment.
	Rate float64
	// Attempts is how often a call that fails transiently (throttled,
	// 5xx, network) is tried before the import stops (DefaultAttempts
	// when 0). The client may retry within each attempt as well.
	Attempts int
	// Backoff is the wait before attempt n+1 (n ≥ 1); by default it doubles
	// from half a second up to 30 s, with jitter.
	Backoff func(n int) time.Duration
	// Sleep waits; a context-aware timer by default.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the rate limiter (time.Now by default).
	Now func() time.Time
}

// Summary counts what an import did.
type Summary struct {
	Rows int
	// Outcomes counts the items per outcome.
	Outcomes map[Outcome]int
	// Requests is the number of service calls made, Retries how many of
	// them repeated a failed call, Throttled how many answers were 429.
	Requests, Retries, Throttled int64
	// Stopped is why the import stopped early (nil when it ran through).
	Stopped error
}

// Failed reports the number of failed items.
func (s Summary) Failed() int { return s.Outcomes[Failed] }

func defaultBackoff(n int) time.Duration {
	base := 500 * time.Millisecond << min(n-1, 6)
	base = min(base, 30*time.Second)
	return base/2 + time.Duration(rand.Int64N(int64(base/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// slot is one item and its result as it travels through the pipeline.
type slot struct {
	item Item
	id   string
	res  Result
	done bool
}

// enrollment returns the item's enrollment, decoding Item.JSON the first
// time it is needed.
func (s *slot) enrollment() (*model.IndividualEnrollment, error) {
	if s.item.Enrollment == nil && s.item.JSON != nil {
		var e model.IndividualEnrollment
		if err := json.Unmarshal(s.item.JSON, &e); err != nil {
			return nil, fmt.Errorf("decoding the enrollment: %w", err)
		}
		s.item.Enrollment = &e
	}
	return s.item.Enrollment, nil
}

func (s *slot) set(o Outcome, code, msg string) {
	s.res = Result{Line: s.item.Line, RegistrationID: s.id, Outcome: o, ErrorCode: code, Message: msg}
	s.done = true
}

type batch struct {
	seq   int
	slots []*slot
}

// run is one import in progress.
type run struct {
	c    Client
	opts Options
	lim  *limiter

	ctx    context.Context // cancelled when the import stops
	cancel context.CancelFunc

	stopOnce sync.Once
	stopped  error

	requests, retries, throttled atomic.Int64
}

// Run imports items, calling emit with each item's result in the order of
// items. It returns when every item has a result (once the import stopped,
// the remaining items are reported without being sent, so an items
// sequence that checks the context may end early); the error is emit's,
// or the context's when it was cancelled. A Summary with Stopped set means
// the service became unreachable (or the context ended): items not written
// are reported failed, and running the same import again finishes it.
func Run(ctx context.Context, c Client, items iter.Seq[Item], opts Options, emit func(Result) error) (Summary, error) {
	if opts.Mode == "" {
		opts.Mode = ModeCreate
	}
	switch opts.Mode {
	case ModeCreate, ModeUpsert, ModeUpdate, ModeDelete:
	default:
		return Summary{}, fmt.Errorf("importer: unknown mode %q", opts.Mode)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.BatchSize <= 0 || opts.BatchSize > MaxBatch {
		opts.BatchSize = MaxBatch
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff == nil {
		opts.Backoff = defaultBackoff
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &run{c: c, opts: opts}
	if opts.Rate > 0 {
		r.lim = &limiter{interval: time.Duration(float64(time.Minute) / opts.Rate), now: opts.Now, sleep: opts.Sleep}
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()

	window := 2*opts.Concurrency + 2
	tokens := make(chan struct{}, window)
	jobs := make(chan *batch)
	done := make(chan *batch, window)
	var wg sync.WaitGroup

	// Producer: groups items into batches, in order.
	var emitErr atomic.Pointer[error]
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		seq := 0
		var cur []*slot
		flush := func() {
			if len(cur) == 0 {
				return
			}
			b := &batch{seq: seq, slots: cur}
			seq++
			cur = nil
			// The collector releases a token per batch it has emitted,
			// and keeps collecting until the end, so this never blocks
			// for good.
			tokens <- struct{}{}
			if r.ctx.Err() != nil {
				r.skip(b)
				done <- b
				return
			}
			jobs <- b
		}
		for it := range items {
			if emitErr.Load() != nil {
				return
			}
			s := &slot{item: it, id: it.ID}
			if it.Enrollment != nil {
				s.id = it.Enrollment.RegistrationID
			}
			cur = append(cur, s)
			if len(cur) == opts.BatchSize {
				flush()
			}
		}
		flush()
	}()
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				r.process(b)
				done <- b
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	sum := Summary{Outcomes: map[Outcome]int{}}
	pending := map[int]*batch{}
	next := 0
	var err error
	for b := range done {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for _, s := range nb.slots {
				sum.Rows++
				sum.Outcomes[s.res.Outcome]++
				if err == nil {
					if e := emit(s.res); e != nil {
						err = e
						emitErr.Store(&e)
						r.stop(e)
					}
				}
			}
			<-tokens
		}
	}
	sum.Requests, sum.Retries, sum.Throttled = r.requests.Load(), r.retries.Load(), r.throttled.Load()
	sum.Stopped = r.stopped
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return sum, err
}

// stop ends the import: in-flight calls are cancelled and every item not
// yet written fails.
func (r *run) stop(err error) {
	r.stopOnce.Do(func() {
		r.stopped = err
		r.cancel()
	})
}

// skip fails the items of a batch that will not be sent.
func (r *run) skip(b *batch) {
	for _, s := range b.slots {
		if !s.done {
			s.set(Failed, CodeNotAttempted, "not attempted: "+r.stopReason())
		}
	}
}

func (r *run) stopReason() string {
	if r.stopped != nil {
		return "the import stopped: " + r.stopped.Error()
	}
	return "the import stopped"
}

// process writes one batch and sets every slot's result.
func (r *run) process(b *batch) {
	if r.ctx.Err() != nil {
		r.skip(b)
		return
	}
	var live []*slot
	for _, s := range b.slots {
		switch {
		case s.item.Err != nil:
			s.set(Failed, CodeInvalid, s.item.Err.Error())
		case s.item.Enrollment == nil && s.item.JSON == nil:
			s.set(Failed, CodeInvalid, "no enrollment")
		default:
			live = append(live, s)
		}
	}
	if len(live) > 0 {
		switch r.opts.Mode {
		case ModeCreate, ModeUpsert:
			r.create(live)
		case ModeUpdate:
			r.update(live)
		case ModeDelete:
			r.delete(live)
		}
	}
	// Anything left without a result was cut short.
	for _, s := range b.slots {
		if !s.done {
			s.set(Failed, CodeInterrupted, "the call was interrupted ("+r.stopReason()+"); run the import again to finish")
		}
	}
}

// call runs fn with the rate limit and the retries of transient failures.
// A transient failure that outlasts the attempts stops the import.
func (r *run) call(fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := r.lim.wait(r.ctx); err != nil {
			return err
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		r.requests.Add(1)
		err := fn(r.ctx)
		if err == nil {
			return nil
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if dps.IsThrottled(err) {
			r.throttled.Add(1)
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
		if err := r.opts.Sleep(r.ctx, r.opts.Backoff(attempt)); err != nil {
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

// limiter spaces calls at least interval apart.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

// thumbprintOnly reports an X.509 enrollment whose certificates are named
// by thumbprint only, which the service cannot create from.
func thumbprintOnly(e *model.IndividualEnrollment) bool {
	p, sec := clientCerts(x509Of(e))
	for _, c := range []*model.X509CertificateWithInfo{p, sec} {
		if c != nil && c.Certificate == "" && c.Info != nil {
			return true
		}
	}
	return false
}

func x509Of(e *model.IndividualEnrollment) *model.X509Attestation {
	if e == nil || e.Attestation == nil {
		return nil
	}
	return e.Attestation.X509
}
