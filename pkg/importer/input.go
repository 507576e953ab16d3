package importer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Input is the file being imported, readable once per pass: a named file,
// or a copy of standard input.
type Input struct {
	name string // in messages: the file name, or "stdin"
	path string // on disk, for a named file
	// copy is the copy of stdin, read from its start by each pass.
	copy   *os.File
	dir    string // base of relative certificate paths
	format enrollfile.Format
	kind   model.EnrollmentKind
	raw    bool // CSV cells are read as they are
	size   int64
	clean  func()
}

// InputOptions say how to read an Input.
type InputOptions struct {
	// Format is the file's format; "" guesses it from the file name
	// (enrollfile.FormatOf), and is CSV for standard input.
	Format enrollfile.Format
	// RawCSV reads CSV cells as they are, without removing the quote an
	// export puts in front of formula-like cells.
	RawCSV bool
	// Kind is the kind of the file's rows: individual enrollments (the
	// zero value) or enrollment groups (enrollfile.SchemaOf).
	Kind model.EnrollmentKind
}

// OpenInput opens a file to import. Relative certificate paths in it are
// taken from the file's directory.
func OpenInput(path string, opts InputOptions) (*Input, error) {
	in := &Input{name: path, path: path, dir: filepath.Dir(path), raw: opts.RawCSV, kind: opts.Kind, clean: func() {}}
	st, err := os.Stat(in.path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", in.name)
	}
	in.size = st.Size()
	in.format = opts.Format
	if in.format == "" {
		in.format = enrollfile.FormatOf(path)
	}
	return in, nil
}

// ReadInput makes standard input, r, readable once per pass: it is copied
// to a temporary file as it arrives, in constant memory. The input is
// named "stdin" in messages; relative certificate paths in it are taken
// from the working directory.
func ReadInput(r io.Reader, opts InputOptions) (*Input, error) {
	tmp, size, clean, err := copyStdin(r)
	if err != nil {
		return nil, err
	}
	in := &Input{name: "stdin", copy: tmp, raw: opts.RawCSV, kind: opts.Kind, size: size, clean: clean}
	in.format = opts.Format
	if in.format == "" {
		in.format = enrollfile.FormatCSV
	}
	return in, nil
}

// Name names the input in messages: the file name as given, or "stdin".
func (in *Input) Name() string { return in.name }

// Kind is the kind of the input's rows.
func (in *Input) Kind() model.EnrollmentKind { return in.kind }

// Size is the input's size in bytes.
func (in *Input) Size() int64 { return in.size }

// Close removes the copy of standard input.
func (in *Input) Close() { in.clean() }

// copyStdin copies r to a temporary file. Like the spool, the file is
// unlinked as soon as it is created where the system allows it, so that
// the copy, keys included, is gone however the process ends; elsewhere
// clean removes it.
func copyStdin(r io.Reader) (f *os.File, size int64, clean func(), err error) {
	f, err = os.CreateTemp("", "dpsctl-import-*")
	if err != nil {
		return nil, 0, nil, err
	}
	name := ""
	if os.Remove(f.Name()) != nil {
		name = f.Name()
	}
	clean = func() {
		f.Close()
		if name != "" {
			os.Remove(name)
		}
	}
	if size, err = io.Copy(f, r); err != nil {
		clean()
		return nil, 0, nil, fmt.Errorf("reading stdin: %w", err)
	}
	return f, size, clean, nil
}

// open returns a reader of the input from its start. With counted set,
// the bytes read are added to *counted.
func (in *Input) open(counted *int64) (enrollfile.Reader, func(), error) {
	var r io.Reader
	closeFn := func() {}
	if in.copy != nil {
		r = io.NewSectionReader(in.copy, 0, in.size)
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, nil, err
		}
		r, closeFn = f, func() { f.Close() }
	}
	if counted != nil {
		r = &countingReader{r: r, n: counted}
	}
	rd, err := enrollfile.NewReaderOf(enrollfile.SchemaOf(in.kind), in.format, r, in.name)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	if cr, ok := rd.(*enrollfile.CSVReader); ok {
		cr.Raw = in.raw
	}
	return rd, closeFn, nil
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
