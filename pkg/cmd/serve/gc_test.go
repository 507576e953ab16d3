package serve

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve sets the collector target unless GOGC is set, and no
// memory limit.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}()
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	for _, gogc := range []string{"", "50", "off"} {
		t.Setenv("GOGC", gogc)
		start, want := 100, GCPercent
		switch gogc {
		case "":
			os.Unsetenv("GOGC")
		case "50":
			start, want = 50, 50
		case "off":
			start, want = -1, -1
		}
		debug.SetGCPercent(start)
		TuneGC()
		if got := debug.SetGCPercent(100); got != want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", gogc, got, want)
		}
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("GOGC=%q: memory limit %d", gogc, got)
		}
	}
}
