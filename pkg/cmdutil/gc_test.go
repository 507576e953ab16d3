package cmdutil

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCForThroughput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   *string
		start int
		want  int
	}{
		{name: "GOGC unset", start: 100, want: ThroughputGCPercent},
		{name: "GOGC set by the user", env: ptr("50"), start: 50, want: 50},
		{name: "GOGC=off", env: ptr("off"), start: -1, want: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", "")
			if tc.env == nil {
				os.Unsetenv("GOGC")
			} else {
				os.Setenv("GOGC", *tc.env)
			}
			prev := debug.SetGCPercent(tc.start)
			defer debug.SetGCPercent(prev)
			TuneGCForThroughput()
			if got := debug.SetGCPercent(tc.start); got != tc.want {
				t.Fatalf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
