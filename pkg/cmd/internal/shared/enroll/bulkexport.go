package enroll

import (
	"context"
	"fmt"
	"iter"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// ExportOptions say how to write an export ("enrollment export", "group
// export").
type ExportOptions struct {
	IO     *iostreams.IOStreams
	Format enrollfile.Format
	// RawCSV writes CSV cells as they are, without the quote that keeps
	// spreadsheets from running them as formulas.
	RawCSV bool
	// Keys, when set, reads the symmetric keys of the entity with this ID
	// (--show-keys).
	Keys func(ctx context.Context, id string) (*model.AttestationMechanism, error)
	// Concurrency is the number of key reads in flight.
	Concurrency int
}

type exportRow[T any] struct {
	e    T
	keys *model.SymmetricKeyAttestation
	skip bool
	err  error
	done chan struct{}
}

// Export writes every entity of list to opts.IO.Out in the file schema of
// its kind, in order, reading the symmetric keys of up to opts.Concurrency
// of them at once when opts.Keys is set.
func Export[T any, P model.EnrollablePointer[T]](ctx context.Context, list iter.Seq2[T, error], opts ExportOptions) error {
	workers := max(opts.Concurrency, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kind := P(nil).Kind()

	// Rows are read in order; keys are read concurrently and the rows
	// written in order, at most 4×workers rows held at once.
	rows := make(chan *exportRow[T], 4*workers)
	sem := make(chan struct{}, workers)
	go func() {
		defer close(rows)
		for e, err := range list {
			r := &exportRow[T]{e: e, err: err, done: make(chan struct{})}
			a := P(&r.e).Common().Attestation
			needKeys := err == nil && opts.Keys != nil && a != nil && a.Type == model.AttestationSymmetricKey
			if needKeys {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				go func() {
					defer func() { <-sem; close(r.done) }()
					id := P(&r.e).ID()
					a, err := opts.Keys(ctx, id)
					switch {
					case dps.IsNotFound(err):
						r.skip = true // deleted since it was listed
					case err != nil:
						r.err = fmt.Errorf("reading the keys of %q: %w", id, err)
					default:
						r.keys = a.SymmetricKey
					}
				}()
			} else {
				close(r.done)
			}
			select {
			case rows <- r:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	w := enrollfile.NewWriterOf(enrollfile.SchemaOf(kind), opts.Format, opts.IO.Out)
	if cw, ok := w.(*enrollfile.CSVWriter); ok {
		cw.Raw = opts.RawCSV
		if err := cw.WriteHeader(); err != nil {
			return err
		}
	}
	n := 0
	for r := range rows {
		<-r.done
		if r.err != nil {
			w.Flush()
			return r.err
		}
		if r.skip {
			continue
		}
		if err := w.Write(enrollfile.FromEntity(P(&r.e), r.keys)); err != nil {
			return err
		}
		n++
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if opts.IO.IsStderrTTY() {
		noun := "enrollments"
		if kind == model.KindGroup {
			noun = "enrollment groups"
		}
		fmt.Fprintf(opts.IO.ErrOut, "exported %d %s\n", n, noun)
	}
	return nil
}
