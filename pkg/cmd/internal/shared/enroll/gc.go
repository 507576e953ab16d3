package enroll

import (
	"os"
	"runtime/debug"
)

// GCPercent is the import's garbage collector target, the one "dpsctl
// serve" has too: the heap may grow to five times what is live between
// collections. Checking and encoding rows makes garbage fast around a
// live heap of a few megabytes; collecting it at twice that would take
// much of the CPU time the import needs, on two cores most of all.
const GCPercent = 400

// TuneGC configures the process's collector for an import: GCPercent
// unless the user set GOGC, and importMemoryLimit as the soft memory limit
// unless GOMEMLIMIT is set, so that past it the collector works harder
// instead of letting the duplicate-ID index, which grows with the file,
// grow five times over. The import calls it once its input is open; the
// profiling harness bench/import/prof calls it to import as the command
// does.
func TuneGC() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(importMemoryLimit)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
