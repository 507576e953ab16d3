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
// unless the user chose one with the GOGC environment variable. It is
// called at the start of such commands, never by libraries.
func TuneGCForThroughput() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(ThroughputGCPercent)
}
