// Command wire turns an enrollment CSV (docs/csv-schema.md) into JSON Lines
// of the service's wire model, one individual enrollment a line, checked by
// the same rules as "dpsctl enrollment import": the input of bulk.js, so
// that the SDK creates exactly the enrollments dpsctl imports.
//
//	wire < enrollments.csv > enrollments.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wire:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	r, err := enrollfile.NewCSVReader(bufio.NewReaderSize(in, 1<<20), "-")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	enc := json.NewEncoder(bw)
	c := &enrollfile.Checker{File: "-"}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		e, errs := c.Check(rec)
		if len(errs) > 0 {
			return errs[0]
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}
