package pkg_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goreleaserVersion is the release tool the project pins.
const goreleaserVersion = "v2.15.1"

// TestReleaseConfig runs "goreleaser check" on .goreleaser.yaml. It builds
// goreleaser from the module proxy, so it is skipped with -short.
func TestReleaseConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds goreleaser; skipped with -short")
	}
	cmd := exec.Command("go", "run", "github.com/goreleaser/goreleaser/v2@"+goreleaserVersion, "check")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1 configuration file(s) validated") {
		t.Fatalf("goreleaser check did not validate the configuration:\n%s", out)
	}
}

// TestFuzzBriefly fuzzes every native fuzz target for a few seconds, so new
// failing inputs surface in CI and not only on a developer's machine. Seeds
// and committed corpora already run in the ordinary test run.
//
// The pass has a budget, DPSCTL_FUZZ_BUDGET (150s unless set), for all of
// it: building the fuzzing binaries and fuzzing. Each target gets an equal
// share of what is left when it starts, but at least 4s: on a busy machine
// a target whose workers each start a service spends a second or two on its
// seeds before it fuzzes. So when the first build has to compile the
// instrumented standard library, the pass overruns its budget by up to 4s
// a target. DPSCTL_FUZZTIME sets the same -fuzztime for every target
// instead. The package's test deadline bounds the pass as well: a target
// that could not finish before it fails, rather than go test killing the
// whole package.
//
// A failing input the engine writes under testdata/fuzz fails the pass and
// stays there, for the developer to look at and commit as a regression seed
// once fixed. The engine's spurious "context deadline exceeded" as
// -fuzztime runs out, with no failing input, is logged and passes.
func TestFuzzBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fuzzers; skipped with -short")
	}
	start := time.Now()
	budget, fixed, err := fuzzPassSettings()
	if err != nil {
		t.Fatal(err)
	}
	targets, err := findFuzzTargets(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) == 0 {
		t.Fatal("no fuzz targets found")
	}
	plan := &fuzzPlan{
		end:   start.Add(budget),
		floor: 4 * time.Second,
		most:  2 * budget / time.Duration(len(targets)),
		fixed: fixed,
		grace: 90 * time.Second,
	}
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		// Leave the test binary time to report before go test's own timeout.
		plan.hard = deadline.Add(-20 * time.Second)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, plan.hard)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	tmp := t.TempDir()
	builds := startFuzzBuilds(ctx, targets, tmp)
	// Cleanups run last-in first-out: the builds stop before tmp goes.
	t.Cleanup(builds.wait)
	t.Cleanup(cancel)

	var fuzzed time.Duration
	ran, quirks := 0, 0
	for i, tg := range targets {
		t.Run(tg.String(), func(t *testing.T) {
			ran++
			b, err := builds.get(tg.dir)
			if err != nil {
				t.Fatal(err)
			}
			fuzztime, err := plan.next(time.Now(), len(targets)-i)
			if err != nil {
				t.Fatalf("not fuzzed: %v", err)
			}
			runCtx, stop := context.WithTimeout(ctx, fuzztime+plan.grace)
			defer stop()
			r := runFuzzTarget(runCtx, b.bin, tg, fuzztime, filepath.Join(tmp, "cache", strings.ReplaceAll(tg.String(), "/", "_")))
			plan.record(fuzztime, r.took)
			fuzzed += r.took
			switch verdict, why := judgeFuzzRun(tg.name, r, fuzztime); verdict {
			case fuzzPassed:
				t.Logf("-fuzztime=%s, %s in all: %s", fuzztime, r.took.Round(100*time.Millisecond), lastStatus(r.out))
			case fuzzDeadlineQuirk:
				quirks++
				t.Logf("passed: %s (-fuzztime=%s, %s in all):\n%s", why, fuzztime, r.took.Round(100*time.Millisecond), r.out)
			default:
				t.Fatalf("%s (-fuzztime=%s, %s in all)%s\n%s", why, fuzztime, r.took.Round(100*time.Millisecond), describeCrashers(tg, r.crashers), r.out)
			}
		})
	}
	built, packages := builds.took()
	t.Logf("%d of %d targets in %s (budget %s): building %d packages %s, fuzzing %s, overlapping; %d deadline reports passed",
		ran, len(targets), time.Since(start).Round(time.Second), budget, packages, built.Round(time.Second), fuzzed.Round(time.Second), quirks)
}
