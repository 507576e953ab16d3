// Command gen writes the enrollment file of the import benchmark (see
// bench/import/run.sh): gen -n 100000 > enrollments.csv.
package main

import (
	"flag"
	"fmt"
	"os"

	importbench "github.com/dpsctl/dpsctl/bench/import"
)

func main() {
	n := flag.Int("n", 100000, "number of enrollments")
	prefix := flag.String("prefix", "bench", "registration ID prefix")
	flag.Parse()
	if err := importbench.Write(os.Stdout, *n, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
