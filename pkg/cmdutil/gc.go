package cmdutil

import (
	"os"
	"runtime/debug"
)

// ThroughputGCPercent is the garbage collector target of the commands that
// move a lot of data through a small live heap (serve, enrollment import):
// the heap may grow to five times what is live between collections instead
// of twice. Their live heap is a few megabytes whatever the input size, so
// this costs tens of megabytes at most and saves most of the collector's
// CPU time, which on a two-core machine competes with the work itself.
const ThroughputGCPercent = 400

// TuneGCForThroughput sets the collector target to ThroughputGCPercent
// unless the user chose one with the GOGC environment variable, and, when
// memoryLimit is not 0 and GOMEMLIMIT is not set, a soft memory limit:
// past it the collector works harder instead of letting a live heap that
// grows with the input (an import's duplicate-ID index) grow five times
// over. It is called at the start of such commands, never by libraries.
func TuneGCForThroughput(memoryLimit int64) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(ThroughputGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memoryLimit > 0 {
		debug.SetMemoryLimit(memoryLimit)
	}
}
