package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Pass 1, the checking pass, reads the file on one goroutine and checks
// its rows on several: checking (parsing endorsement keys and
// certificates) costs several times what reading does. Rows go to the
// checkers in batches, and the problems found come back to one goroutine
// that hands them on (CheckOptions.Problem) in the order of the file, as a
// single goroutine checking row after row would.
const (
	// maxCheckWorkers bounds the goroutines checking rows.
	maxCheckWorkers = 8
	// checkBatchRows is the number of rows handed to a checker at once:
	// enough that handing them over costs little beside checking them,
	// few enough that the rows in flight take little memory.
	checkBatchRows = 128
	// batchesPerWorker bounds the batches read ahead of the one being
	// reported, per checker.
	batchesPerWorker = 4
)

// checkWorkers is the number of goroutines to check rows on: one per
// processor Go may use, up to maxCheckWorkers.
func checkWorkers() int { return min(runtime.GOMAXPROCS(0), maxCheckWorkers) }

// CheckOptions are the settings of the checking pass (Check).
type CheckOptions struct {
	// Mode is the mode of the import the rows are checked for: for
	// ModeDelete only the registration IDs are needed and checked.
	Mode Mode
	// DryRun says that nothing will be written: no row is kept for the
	// writing pass.
	DryRun bool
	// Now is the clock certificates are checked against (time.Now when
	// nil). The checking goroutines share it.
	Now func() time.Time
	// Workers is the number of goroutines checking rows; 0 is one per
	// processor Go may use, up to 8.
	Workers int
	// Problem, when set, is called with each bad row, in file order, on
	// one goroutine (a row found bad twice, such as a duplicate ID, is
	// passed twice). An error it returns stops the pass.
	Problem func(Problem) error
	// Progress, when set, is called now and then, on the goroutine that
	// calls Problem, with the number of bytes of the input read so far.
	Progress func(read int64)
}

// Problem is a row the checking pass rejects.
type Problem struct {
	// Result is the row's outcome, as an import report gives it: Failed,
	// CodeInvalid, and the first problem (column: reason) as its message.
	Result
	// Errs are the row's problems in the order found, each
	// FILE:LINE: column: reason.
	Errs []error
}

// Checked is an input the checking pass went through, with what it kept
// for the writing pass.
type Checked struct {
	// Rows is the number of rows, Bad the number of rows with problems.
	Rows, Bad int

	in      *Input
	checker *enrollfile.Checker
	spool   *spool
	closers []func()
}

// Check runs pass 1 over in: every row is read and checked, on several
// goroutines, bad rows are passed to opts.Problem in file order, and
// duplicate IDs are looked for. Unless opts.DryRun is set or the mode is
// ModeDelete, the enrollments of the rows accepted are encoded on the
// checking goroutines and kept, in file order, in a temporary spool file,
// so that the writing pass neither reads nor converts the input again.
//
// On error the counts of the Checked say how far the pass got, and
// nothing is kept; otherwise the Checked must be closed.
func Check(ctx context.Context, in *Input, opts CheckOptions) (*Checked, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = checkWorkers()
	}
	c := &Checked{in: in, checker: &enrollfile.Checker{File: in.name, Dir: in.dir, Now: opts.Now, IDsOnly: opts.Mode == ModeDelete, Kind: in.kind}}
	if !opts.DryRun && opts.Mode != ModeDelete {
		sp, err := newSpool()
		if err != nil {
			return c, err
		}
		c.spool = sp
		c.closers = append(c.closers, sp.close)
	}
	s := &checkState{in: in, problem: opts.Problem, progress: opts.Progress, spool: c.spool, badLines: map[int]bool{}, dups: enrollfile.NewDuplicateIndex()}
	var err error
	if workers <= 1 {
		err = s.checkSerial(ctx, c.checker)
	} else {
		err = s.checkParallel(ctx, c.checker, workers)
	}
	if err == nil {
		err = s.checkDuplicates(ctx)
	}
	c.Rows, c.Bad = s.rows, s.bad
	if err != nil {
		c.Close()
		return c, err
	}
	return c, nil
}

// Items returns the rows as the items of the writing pass (Run), in file
// order: the enrollments the checking pass kept, or, when it kept none
// (ModeDelete, a dry run), the rows read again; a row read again after
// ctx ends carries no enrollment. Call it once, and only when no row was
// bad.
func (c *Checked) Items(ctx context.Context) (iter.Seq[Item], error) {
	if c.Bad > 0 {
		return nil, fmt.Errorf("importer: %d rows are invalid", c.Bad)
	}
	if c.spool != nil {
		return c.spool.items()
	}
	rd, closeFile, err := c.in.open(nil)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, closeFile)
	return fileItems(ctx, rd, c.checker), nil
}

// Close removes what the pass kept and closes what Items opened.
func (c *Checked) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// fileItems reads the import items from the file again (pass 2 without a
// spool: deletions need only the IDs).
func fileItems(ctx context.Context, rd enrollfile.Reader, checker *enrollfile.Checker) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				// The file changed since it was checked.
				if !yield(Item{Err: err}) {
					return
				}
				continue
			}
			it := Item{Line: rec.Line, ID: rec.Get(enrollfile.RegistrationID)}
			if ctx.Err() == nil {
				var ent model.Enrollable
				ent, it.Err = checker.BuildEntity(rec)
				switch e := ent.(type) {
				case *model.IndividualEnrollment:
					it.Enrollment = e
				case *model.EnrollmentGroup:
					it.Group = e
				}
			}
			if !yield(it) {
				return
			}
		}
	}
}

// checkState is the state of pass 1 that lives on the goroutine passing
// the problems on.
type checkState struct {
	in       *Input
	problem  func(Problem) error
	progress func(read int64)
	rows     int
	bad      int
	badLines map[int]bool
	dups     *enrollfile.DuplicateIndex
	// spool, when not nil, receives the accepted rows' enrollments.
	spool *spool
}

// showProgress passes the bytes read on to CheckOptions.Progress.
func (s *checkState) showProgress(read int64) {
	if s.progress != nil {
		s.progress(read)
	}
}

// spooling reports whether accepted rows still go to the spool: once a
// row is bad nothing will be written, so nothing more is kept.
func (s *checkState) spooling() bool { return s.spool != nil && s.bad == 0 }

// keep adds an accepted row to the spool.
func (s *checkState) keep(rec *enrollfile.Record, enc []byte) {
	if s.spooling() && enc != nil {
		s.spool.add(rec.Line, rec.Get(enrollfile.RegistrationID), enc)
	}
}

// rowProblems are the problems of one row, in the order they are printed.
type rowProblems struct {
	line int
	id   string
	errs []error
}

// readProblem is a row the reader could not make a record of.
func readProblem(err error) rowProblems {
	var re *enrollfile.RowError
	errors.As(err, &re)
	return rowProblems{line: re.Line, errs: []error{err}}
}

// checkRecord checks one record; ok is false when it has problems. With
// encode set, enc is the wire JSON of the enrollment of an accepted row.
func checkRecord(checker *enrollfile.Checker, rec *enrollfile.Record, encode bool) (enc []byte, p rowProblems, ok bool) {
	ent, errs := checker.CheckEntity(rec)
	if len(errs) == 0 {
		if !encode {
			return nil, rowProblems{}, true
		}
		var enc []byte
		var err error
		if e, ok := ent.(*model.IndividualEnrollment); ok {
			enc, err = dps.EncodeEnrollment(e)
		} else {
			enc, err = json.Marshal(ent)
		}
		if err != nil {
			return nil, rowProblems{line: rec.Line, id: rec.Get(enrollfile.RegistrationID), errs: []error{err}}, false
		}
		return enc, rowProblems{}, true
	}
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return nil, rowProblems{line: rec.Line, id: rec.Get(enrollfile.RegistrationID), errs: es}, false
}

// fail counts a row as bad and passes its problems on.
func (s *checkState) fail(p rowProblems) error {
	if !s.badLines[p.line] {
		s.badLines[p.line] = true
		s.bad++
	}
	if s.problem == nil {
		return nil
	}
	msg := p.errs[0].Error()
	if re := (*enrollfile.RowError)(nil); errors.As(p.errs[0], &re) && re.Err != nil {
		msg = re.Err.Error()
		if re.Column != "" {
			msg = re.Column + ": " + msg
		}
	}
	return s.problem(Problem{Result: Result{Line: p.line, RegistrationID: p.id, Outcome: Failed, ErrorCode: CodeInvalid, Message: msg}, Errs: p.errs})
}

// addID enters a record's registration ID in the duplicate index.
func (s *checkState) addID(rec *enrollfile.Record) {
	if id := rec.Get(enrollfile.RegistrationID); id != "" {
		s.dups.Add(id)
	}
}

// checkSerial reads and checks the rows on the calling goroutine.
func (s *checkState) checkSerial(ctx context.Context, checker *enrollfile.Checker) error {
	var read int64
	rd, closeFile, err := s.in.open(&read)
	if err != nil {
		return err
	}
	defer closeFile()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if !enrollfile.IsRowError(err) {
				return err
			}
			s.rows++
			if err := s.fail(readProblem(err)); err != nil {
				return err
			}
			continue
		}
		s.rows++
		s.addID(rec)
		enc, p, ok := checkRecord(checker, rec, s.spooling())
		if !ok {
			if err := s.fail(p); err != nil {
				return err
			}
		}
		s.keep(rec, enc)
		if s.rows%256 == 0 {
			s.showProgress(read)
		}
	}
}

// checkBatch is consecutive rows of the file on their way through pass 1.
type checkBatch struct {
	// recs are the rows, in file order; a nil record is a row the
	// reader could not read, whose error is in readErrs.
	recs     []*enrollfile.Record
	readErrs map[int]error
	// read is how much of the file had been read after the last row.
	read int64
	// end is the error that ended the file after the rows (io.EOF at
	// its end), or nil when more rows follow.
	end error

	// problems, set by the checker, are those of the rows, in order.
	problems []rowProblems
	// encoded, set by the checker when spooling, are the enrollments of
	// the rows accepted (nil for the others).
	encoded [][]byte
	// done is closed when the batch has been checked.
	done chan struct{}
}

// checkParallel reads the rows on one goroutine, checks them on workers
// goroutines and hands their problems on from the calling one.
// It returns when every goroutine it started has ended.
func (s *checkState) checkParallel(ctx context.Context, checker *enrollfile.Checker, workers int) error {
	var read int64
	rd, closeFile, err := s.in.open(&read)
	if err != nil {
		return err
	}
	defer closeFile()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// order has the batches in file order, for reporting; work the same
	// batches, for the first free checker. A batch goes to order before
	// work, so the bound of order bounds the batches in flight. The
	// readers return a new Record from every Next (its strings are not
	// reused either), so records pass to the checkers as they are.
	order := make(chan *checkBatch, batchesPerWorker*workers)
	work := make(chan *checkBatch, workers)
	wg.Go(func() {
		defer close(order)
		defer close(work)
		for {
			if ctx.Err() != nil {
				return
			}
			b := &checkBatch{recs: make([]*enrollfile.Record, 0, checkBatchRows), done: make(chan struct{})}
			for b.end == nil && len(b.recs) < checkBatchRows {
				rec, err := rd.Next()
				switch {
				case err == nil:
				case enrollfile.IsRowError(err):
					if b.readErrs == nil {
						b.readErrs = map[int]error{}
					}
					b.readErrs[len(b.recs)] = err
				default:
					b.end = err
					continue
				}
				b.recs = append(b.recs, rec)
			}
			b.read = read
			select {
			case order <- b:
			case <-ctx.Done():
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			if b.end != nil {
				return
			}
		}
	})
	encode := s.spool != nil
	for range workers {
		wg.Go(func() {
			for b := range work {
				if encode {
					b.encoded = make([][]byte, len(b.recs))
				}
				for i, rec := range b.recs {
					if ctx.Err() != nil {
						break
					}
					if rec == nil {
						b.problems = append(b.problems, readProblem(b.readErrs[i]))
					} else if enc, p, ok := checkRecord(checker, rec, encode); !ok {
						b.problems = append(b.problems, p)
					} else if encode {
						b.encoded[i] = enc
					}
				}
				close(b.done)
			}
		})
	}

	for {
		var b *checkBatch
		select {
		case b = <-order:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b == nil {
			// The reader stopped early: ctx is done.
			return ctx.Err()
		}
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			// The batch may have been left part checked.
			return err
		}
		for _, rec := range b.recs {
			if rec != nil {
				s.addID(rec)
			}
		}
		s.rows += len(b.recs)
		for _, p := range b.problems {
			if err := s.fail(p); err != nil {
				return err
			}
		}
		if s.spooling() {
			for i, rec := range b.recs {
				if rec != nil {
					s.keep(rec, b.encoded[i])
				}
			}
		}
		s.showProgress(b.read)
		switch {
		case b.end == io.EOF:
			return nil
		case b.end != nil:
			return b.end
		}
	}
}

// checkDuplicates takes a second look at the rows whose ID hash was seen
// twice, when there are any.
func (s *checkState) checkDuplicates(ctx context.Context) error {
	dc := s.dups.Checker()
	if dc == nil {
		return nil
	}
	dc.Column = enrollfile.SchemaOf(s.in.kind).Name(enrollfile.RegistrationID)
	rd, closeFile, err := s.in.open(nil)
	if err != nil {
		return err
	}
	defer closeFile()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			continue
		}
		id := rec.Get(enrollfile.RegistrationID)
		if id == "" {
			continue
		}
		if e := dc.Check(s.in.name, rec.Line, id); e != nil {
			if err := s.fail(rowProblems{line: rec.Line, id: id, errs: []error{e}}); err != nil {
				return err
			}
		}
	}
}
