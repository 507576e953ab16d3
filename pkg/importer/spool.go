package importer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// spool keeps the rows pass 1 accepted, each encoded as the enrollment the
// service will be sent, in a temporary file, so that pass 2 neither reads
// nor converts the input again: encoding happens on pass 1's checking
// goroutines, while the service is still idle, and pass 2 only sends. The
// file holds about as many bytes as the input; memory stays flat.
//
// A record is uvarint(line) uvarint(len(id)) id uvarint(len(json)) json.
type spool struct {
	f    *os.File
	name string // removed on close when it could not be removed at once
	w    *bufio.Writer
	rows int
	err  error
}

// newSpool creates the spool file in the temporary directory. On systems
// that allow it the file is unlinked at once, so that nothing is left
// behind however the process ends.
func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "dpsctl-import-*.spool")
	if err != nil {
		return nil, fmt.Errorf("creating the import's spool file: %w", err)
	}
	s := &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

// add appends a row; the first write error sticks and is returned by items.
func (s *spool) add(line int, id string, enc []byte) {
	if s == nil || s.err != nil {
		return
	}
	var hdr [3 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(line))
	n += binary.PutUvarint(hdr[n:], uint64(len(id)))
	s.w.Write(hdr[:n])
	s.w.WriteString(id)
	n = binary.PutUvarint(hdr[:], uint64(len(enc)))
	s.w.Write(hdr[:n])
	if _, err := s.w.Write(enc); err != nil {
		s.err = fmt.Errorf("writing the import's spool file: %w", err)
	}
	s.rows++
}

// items flushes the spool and returns its rows as import items, in the
// order they were added. A read failure ends the sequence with an item
// carrying the error.
func (s *spool) items() (iter.Seq[Item], error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("writing the import's spool file: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading the import's spool file: %w", err)
	}
	r := bufio.NewReaderSize(s.f, 256<<10)
	return func(yield func(Item) bool) {
		for {
			it, err := readSpoolRecord(r)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Item{Err: fmt.Errorf("reading the import's spool file: %w", err)})
				return
			}
			if !yield(it) {
				return
			}
		}
	}, nil
}

// maxSpoolField bounds a length read back from the spool.
const maxSpoolField = 64 << 20

func readSpoolRecord(r *bufio.Reader) (Item, error) {
	line, err := binary.ReadUvarint(r)
	if err != nil {
		return Item{}, err // io.EOF at the end
	}
	field := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if n > maxSpoolField {
			return nil, errors.New("corrupt record")
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpectedEOF(err)
		}
		return b, nil
	}
	id, err := field()
	if err != nil {
		return Item{}, err
	}
	enc, err := field()
	if err != nil {
		return Item{}, err
	}
	return Item{Line: int(line), ID: string(id), JSON: enc}, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// close closes and removes the spool file.
func (s *spool) close() {
	if s == nil {
		return
	}
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
}
