package serve

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector target of serve: the heap may grow to
// five times what is live between collections instead of twice. The
// service's live heap is a few megabytes however much passes through it,
// so this costs tens of megabytes at most and saves most of the
// collector's CPU time, which on a two-core machine competes with the
// requests.
const GCPercent = 400

// TuneGC sets the process's collector target to GCPercent unless the user
// chose one with GOGC. serve calls it before it opens the service, and the
// profiling harness in bench/import/prof to run the service as serve does.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
