//go:build unix

// Command prof profiles the two sides of the import benchmark separately,
// each in its own process as with "dpsctl serve" and "dpsctl enrollment
// import":
//
//	prof serve -data DIR -cpuprofile serve.pprof      # until SIGINT or SIGTERM
//	prof import -file F.csv -cpuprofile import.pprof  # needs DPSCTL_CONNECTION_STRING, DPSCTL_CA_FILE
//
// "serve" runs the local service in process on 127.0.0.1:0, prints its
// connection string and CA file as the first two lines of stdout and, when
// it stops, its CPU time and peak RSS on stderr. "import" checks and imports
// a file as the import command does (pass 1 checks every row, pass 2 writes
// them through the importer over HTTPS) and prints the times; -http2 uses
// HTTP/2 over one connection instead of the client's HTTP/1.1 transport.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/enrollment/import"
	servecmd "github.com/dpsctl/dpsctl/pkg/cmd/serve"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/server"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prof serve|import [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "import":
		err = runImport(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prof:", err)
		os.Exit(1)
	}
}

// startProfile starts a CPU profile to path; the function it returns
// stops it and writes the allocations so far to path with .mem appended.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if m, err := os.Create(path + ".mem"); err == nil {
			pprof.Lookup("allocs").WriteTo(m, 0)
			m.Close()
		}
	}, nil
}

func serve(args []string) error {
	servecmd.TuneGC()
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	data := fs.String("data", "", "data directory")
	prof := fs.String("cpuprofile", "", "CPU profile file")
	fs.Parse(args)
	inst, err := server.Open(server.Options{DataDir: *data})
	if err != nil {
		return err
	}
	defer inst.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	stop, err := startProfile(*prof)
	if err != nil {
		return err
	}
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- inst.Serve(ctx, ln) }()
	time.Sleep(100 * time.Millisecond)
	info := inst.Info()
	fmt.Println(info.ConnectionString)
	fmt.Println(info.CAFile)
	err = <-errc
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Fprintf(os.Stderr, "serve cpu user %.2fs sys %.2fs maxrss %d MB\n", time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds(), ru.Maxrss/1024)
	return err
}

func runImport(args []string) error {
	importcmd.TuneGC()
	fs := flag.NewFlagSet("import", flag.ExitOnError)
	file := fs.String("file", "", "enrollment CSV file")
	prof := fs.String("cpuprofile", "", "CPU profile file")
	conc := fs.Int("concurrency", importer.DefaultConcurrency, "bulk calls in flight")
	h2 := fs.Bool("http2", false, "HTTP/2 (one connection) instead of the client's HTTP/1.1 transport")
	fs.Parse(args)
	pool := x509.NewCertPool()
	cas, err := certs.ReadFile(os.Getenv("DPSCTL_CA_FILE"))
	if err != nil {
		return err
	}
	for _, c := range cas {
		pool.AddCert(c)
	}
	tr := dps.NewTransport(&tls.Config{RootCAs: pool})
	if *h2 {
		tr = http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	c, err := dps.New(dps.Options{ConnectionString: os.Getenv("DPSCTL_CONNECTION_STRING"), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return err
	}
	stop, err := startProfile(*prof)
	if err != nil {
		return err
	}
	defer stop()
	checker := &enrollfile.Checker{File: *file}
	open := func() (enrollfile.Reader, func(), error) {
		f, err := os.Open(*file)
		if err != nil {
			return nil, nil, err
		}
		rd, err := enrollfile.NewCSVReader(f, *file)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return rd, func() { f.Close() }, nil
	}
	start := time.Now()
	rd, closeFile, err := open()
	if err != nil {
		return err
	}
	rows := 0
	dups := enrollfile.NewDuplicateIndex()
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rows++
		dups.Add(rec.Get(enrollfile.RegistrationID))
		if _, errs := checker.Check(rec); len(errs) > 0 {
			return errs[0]
		}
	}
	closeFile()
	if dups.Checker() != nil {
		return fmt.Errorf("duplicate IDs")
	}
	checked := time.Since(start)
	rd, closeFile, err = open()
	if err != nil {
		return err
	}
	defer closeFile()
	items := func(yield func(importer.Item) bool) {
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			it := importer.Item{Err: err}
			if err == nil {
				it.Line, it.ID = rec.Line, rec.Get(enrollfile.RegistrationID)
				it.Enrollment, it.Err = checker.Build(rec)
			}
			if !yield(it) {
				return
			}
		}
	}
	failed := 0
	sum, err := importer.Run(context.Background(), c, items, importer.Options{Concurrency: *conc}, func(r importer.Result) error {
		if r.Outcome == importer.Failed {
			if failed < 5 {
				fmt.Fprintf(os.Stderr, "line %d: %s: %s\n", r.Line, r.Message, r.ErrorCode)
			}
			failed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d rows: checked in %.2fs, total %.2fs; %v; %d calls\n", rows, checked.Seconds(), time.Since(start).Seconds(), sum.Outcomes, sum.Requests)
	return nil
}
