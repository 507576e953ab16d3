// Command floor measures the floor under "dpsctl enrollment import": the
// rows of an enrollment CSV checked by the import's own rules, encoded as
// the service stores them, and inserted straight into a fresh SQLite store
// in one transaction, with no HTTP, TLS or service in between. It prints
// the seconds of each stage as
//
//	floor: N rows: check S s, encode S s, insert S s (one transaction), total S s
//
// for bench/import/run.sh, which sets the import's time beside it.
//
//	floor -file enrollments.csv -dir EMPTY_DIR
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func main() {
	file := flag.String("file", "", "enrollment CSV")
	dir := flag.String("dir", "", "empty directory for the store")
	flag.Parse()
	if err := run(*file, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()

	start := time.Now()
	r, err := enrollfile.NewCSVReader(bufio.NewReaderSize(f, 1<<20), file)
	if err != nil {
		return err
	}
	c := &enrollfile.Checker{File: file}
	var rows []*model.IndividualEnrollment
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
		rows = append(rows, e)
	}
	checked := time.Now()

	now := model.FormatTime(checked)
	enc := make([]store.Encoded, len(rows))
	tag := make([]byte, 16)
	for i, e := range rows {
		rand.Read(tag)
		e.ETag = hex.EncodeToString(tag)
		e.CreatedDateTimeUTC, e.LastUpdatedDateTimeUTC = now, now
		if enc[i], err = store.EncodeEnrollment(e); err != nil {
			return err
		}
	}
	encoded := time.Now()

	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	opened := time.Now()
	var created int
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		ok, err := tx.InsertEnrollments(enc)
		for _, b := range ok {
			if b {
				created++
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	done := time.Now()
	if created != len(rows) {
		return fmt.Errorf("%d of %d rows inserted", created, len(rows))
	}
	fmt.Printf("floor: %d rows: check %.2f s, encode %.2f s, insert %.2f s (one transaction), total %.2f s\n",
		len(rows), checked.Sub(start).Seconds(), encoded.Sub(checked).Seconds(), done.Sub(opened).Seconds(),
		checked.Sub(start).Seconds()+encoded.Sub(checked).Seconds()+done.Sub(opened).Seconds())
	return nil
}
