// Package importer is the engine of bulk imports of individual
// enrollments, or of enrollment groups (groups.go), from a CSV or JSON
// Lines file, in two passes.
//
// Pass 1, Check, reads the file (Input) and checks every row on several
// goroutines, handing the problems on in file order, and keeps the
// accepted rows encoded as the enrollments to send, in a temporary spool,
// so that pass 2 neither reads nor converts the file again.
//
// Pass 2, Run, writes the enrollments through the bulk API: batches of at
// most ten, several batches in flight, paced to what a throttling service
// allows (pacer.go) under the ceilings of the options, retries of
// transient failures (429 after its Retry-After, 5xx, network), and an
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
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Client is the part of the service client an import uses; *dps.Client
// satisfies it. The client should return throttled answers (429) rather
// than retry them itself (dps.Client.WithoutRetries): the import paces its
// calls by them.
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
	// Group is the enrollment group to write, in an import of groups
	// (RunGroups), where JSON, when Group is nil, is its wire JSON.
	Group *model.EnrollmentGroup
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
	// next, and that the local service commits many together (measured on
	// two cores: 16 in flight took 7% longer than 24 or 32); a throttled
	// service answers 429, which the import backs off from.
	DefaultConcurrency = 32
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
	// counts: a bulk call, a read of an existing enrollment. Below the
	// caps of Rate and Concurrency, the import finds the rate a
	// throttling service allows by itself (pacer.go).
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
	// Now is the clock of the pacing of calls (time.Now by default).
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
	gc   GroupClient // in an import of groups (RunGroups), instead of c
	opts Options
	pace *pacer

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
	return start(ctx, &run{c: c}, items, opts, emit)
}

// start runs the import of r's items (Run, RunGroups).
func start(ctx context.Context, r *run, items iter.Seq[Item], opts Options, emit func(Result) error) (Summary, error) {
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
		opts.Sleep = apierr.Wait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r.opts, r.pace = opts, newPacer(opts.Rate, opts.Concurrency, opts.Now)
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
			if it.Group != nil {
				s.id = it.Group.EnrollmentGroupID
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
		case s.item.Enrollment == nil && s.item.Group == nil && s.item.JSON == nil:
			s.set(Failed, CodeInvalid, "no enrollment")
		default:
			live = append(live, s)
		}
	}
	if r.gc != nil {
		for _, s := range live {
			r.group(s)
		}
		live = nil
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
