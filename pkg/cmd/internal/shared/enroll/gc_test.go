package enroll

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name         string
		gogc, limit  *string // environment; nil: unset
		startPercent int
		wantPercent  int
		wantLimit    int64
	}{
		{name: "nothing set", startPercent: 100, wantPercent: GCPercent, wantLimit: importMemoryLimit},
		{name: "GOGC set by the user", gogc: ptr("50"), startPercent: 50, wantPercent: 50, wantLimit: importMemoryLimit},
		{name: "GOGC=off", gogc: ptr("off"), startPercent: -1, wantPercent: -1, wantLimit: importMemoryLimit},
		{name: "GOMEMLIMIT set by the user", limit: ptr("1GiB"), startPercent: 100, wantPercent: GCPercent, wantLimit: math.MaxInt64},
		{name: "both set by the user", gogc: ptr("200"), limit: ptr("1GiB"), startPercent: 200, wantPercent: 200, wantLimit: math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []struct {
				name string
				val  *string
			}{{"GOGC", tc.gogc}, {"GOMEMLIMIT", tc.limit}} {
				t.Setenv(v.name, "")
				if v.val == nil {
					os.Unsetenv(v.name)
				} else {
					os.Setenv(v.name, *v.val)
				}
			}
			prevPercent := debug.SetGCPercent(tc.startPercent)
			prevLimit := debug.SetMemoryLimit(math.MaxInt64)
			defer func() {
				debug.SetGCPercent(prevPercent)
				debug.SetMemoryLimit(prevLimit)
			}()
			TuneGC()
			if got := debug.SetGCPercent(tc.startPercent); got != tc.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tc.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}

func ptr(s string) *string { return &s }
