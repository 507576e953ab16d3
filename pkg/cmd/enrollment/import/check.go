package importcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/importer"
)

// Pass 1 reads the file on one goroutine and checks its rows on several:
// checking (parsing endorsement keys and certificates) costs several times
// what reading does. Rows go to the checkers in batches, and the problems
// found come back to one goroutine that prints and reports them in the
// order of the file, as a single goroutine checking row after row would.
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

// checkAll runs pass 1: every row is read and checked, problems are printed
// (and reported), duplicates are looked for. It returns the number of rows
// and of bad rows.
//
// With a spool, the enrollments of the rows accepted are encoded on the
// checking goroutines and added to it in file order.
func checkAll(ctx context.Context, in *input, checker *enrollfile.Checker, bar *progress, report *reportWriter, sp *spool) (rows, bad int, err error) {
	return checkRows(ctx, in, checker, bar, report, sp, checkWorkers())
}

// checkRows is checkAll with the rows checked on the given number of
// goroutines. The checker is shared by them: Checker.Check may be called
// concurrently (checker.Now too, which time.Now allows).
func checkRows(ctx context.Context, in *input, checker *enrollfile.Checker, bar *progress, report *reportWriter, sp *spool, workers int) (rows, bad int, err error) {
	s := &checkState{in: in, bar: bar, report: report, spool: sp, badLines: map[int]bool{}, dups: enrollfile.NewDuplicateIndex()}
	if workers <= 1 {
		err = s.checkSerial(ctx, checker)
	} else {
		err = s.checkParallel(ctx, checker, workers)
	}
	if err == nil {
		err = s.checkDuplicates(ctx)
	}
	return s.rows, s.bad, err
}

// checkState is the state of pass 1 that lives on the goroutine printing
// the problems.
type checkState struct {
	in       *input
	bar      *progress
	report   *reportWriter
	rows     int
	bad      int
	badLines map[int]bool
	dups     *enrollfile.DuplicateIndex
	// spool, when not nil, receives the accepted rows' enrollments.
	spool *spool
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
	e, errs := checker.Check(rec)
	if len(errs) == 0 {
		if !encode {
			return nil, rowProblems{}, true
		}
		enc, err := dps.EncodeEnrollment(e)
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

// fail prints the problems of a row, counts the row as bad and reports it.
func (s *checkState) fail(p rowProblems) error {
	s.bar.clear()
	for _, e := range p.errs {
		fmt.Fprintln(s.bar.errOut, e)
	}
	if !s.badLines[p.line] {
		s.badLines[p.line] = true
		s.bad++
	}
	msg := p.errs[0].Error()
	if re := (*enrollfile.RowError)(nil); errors.As(p.errs[0], &re) && re.Err != nil {
		msg = re.Err.Error()
		if re.Column != "" {
			msg = re.Column + ": " + msg
		}
	}
	return s.report.write(importer.Result{Line: p.line, RegistrationID: p.id, Outcome: importer.Failed, ErrorCode: importer.CodeInvalid, Message: msg})
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
			s.bar.update("Checking", read, s.in.size, "bytes")
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
// goroutines and prints and reports their problems on the calling one.
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
		s.bar.update("Checking", b.read, s.in.size, "bytes")
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
