// Command seq is the baseline of the import benchmark: it creates the
// enrollments of a file one PUT at a time through the service client, as a
// script looping over "enrollment create" (without its process start-up)
// would, and reports the rate, extrapolated to -n rows.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

func main() {
	file := flag.String("file", "", "enrollment CSV file")
	n := flag.Int("n", 100000, "number of rows to extrapolate to")
	flag.Parse()
	if err := run(*file, *n); err != nil {
		fmt.Fprintln(os.Stderr, "seq:", err)
		os.Exit(1)
	}
}

func run(file string, n int) error {
	pool := x509.NewCertPool()
	cas, err := certs.ReadFile(os.Getenv("DPSCTL_CA_FILE"))
	if err != nil {
		return err
	}
	for _, c := range cas {
		pool.AddCert(c)
	}
	// The same transport as the dpsctl commands.
	tr := dps.NewTransport(&tls.Config{RootCAs: pool})
	c, err := dps.New(dps.Options{ConnectionString: os.Getenv("DPSCTL_CONNECTION_STRING"), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := enrollfile.NewCSVReader(f, file)
	if err != nil {
		return err
	}
	checker := &enrollfile.Checker{File: file}
	ctx := context.Background()
	start := time.Now()
	rows := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e, err := checker.Build(rec)
		if err != nil {
			return err
		}
		if _, err := c.PutEnrollment(ctx, e, ""); err != nil {
			return err
		}
		rows++
	}
	d := time.Since(start)
	perRow := d / time.Duration(rows)
	fmt.Printf("sequential create, one call per row: %d rows in %.2fs (%.0f rows/s); extrapolated to %d rows: %.1fs\n",
		rows, d.Seconds(), float64(rows)/d.Seconds(), n, (perRow * time.Duration(n)).Seconds())
	return nil
}
