package pkg_test

// The machinery behind TestFuzzBriefly (release_test.go): finding the fuzz
// targets, building one fuzzing binary per package, sharing a time budget
// among the targets and judging what the fuzzing engine reports.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// moduleRoot is the module's directory, seen from this package's, where
// go test runs the test.
const moduleRoot = ".."

// fuzzTarget is one native fuzz test: FuzzX in the package at dir, a
// slash-separated path from the module's root ("pkg/certs").
type fuzzTarget struct {
	dir, name string
}

func (f fuzzTarget) String() string { return f.dir + "/" + f.name }

// path is where the target's package lies, from this package's directory.
func (f fuzzTarget) path() string { return filepath.Join(moduleRoot, filepath.FromSlash(f.dir)) }

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)

// findFuzzTargets lists every fuzz test in the module at root, sorted by
// package and name so that a package's targets run one after another from
// one binary.
func findFuzzTargets(root string) ([]fuzzTarget, error) {
	var targets []fuzzTarget
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			// What the go command leaves out of ./..., and other modules.
			if d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
			targets = append(targets, fuzzTarget{dir: filepath.ToSlash(rel), name: string(m[1])})
		}
		return nil
	})
	slices.SortFunc(targets, func(a, b fuzzTarget) int {
		return strings.Compare(a.dir+"\x00"+a.name, b.dir+"\x00"+b.name)
	})
	return targets, err
}

// fuzzBuild is a package's fuzzing test binary; done is closed once bin
// (or err and the compiler's output) is set.
type fuzzBuild struct {
	done chan struct{}
	bin  string
	out  []byte
	err  error
	took time.Duration
}

// fuzzBuilder builds one fuzzing binary per package, one build at a time,
// in the background, while the targets of the packages built before run.
//
// "go test -c -fuzz=." compiles with the same coverage instrumentation as
// "go test -fuzz" (the flag turns it on at build time; its pattern is only
// matched when the binary runs). Compared with a "go test -fuzz" per
// target, each package links once instead of once per target, and the
// builds overlap the fuzzing. The instrumented standard library and
// dependencies land in the build cache, so only the first pass on a
// machine pays for compiling them (minutes on two cores).
type fuzzBuilder struct {
	ctx    context.Context
	dir    string
	builds map[string]*fuzzBuild
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending []string // packages not started yet, next first
}

// startFuzzBuilds starts building the targets' packages in the order the
// targets run. The caller must cancel ctx and call wait before removing
// dir.
func startFuzzBuilds(ctx context.Context, targets []fuzzTarget, dir string) *fuzzBuilder {
	b := &fuzzBuilder{ctx: ctx, dir: dir, builds: map[string]*fuzzBuild{}}
	for _, tg := range targets {
		if b.builds[tg.dir] == nil {
			b.builds[tg.dir] = &fuzzBuild{done: make(chan struct{})}
			b.pending = append(b.pending, tg.dir)
		}
	}
	b.wg.Add(1)
	go b.run()
	return b
}

func (b *fuzzBuilder) run() {
	defer b.wg.Done()
	for i := 0; ; i++ {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.mu.Unlock()
			return
		}
		pkg := b.pending[0]
		b.pending = b.pending[1:]
		b.mu.Unlock()

		fb := b.builds[pkg]
		fb.bin = filepath.Join(b.dir, fmt.Sprintf("fuzz%02d.test", i))
		start := time.Now()
		cmd := exec.CommandContext(b.ctx, "go", "test", "-c", "-fuzz=.", "-o", fb.bin, "./"+pkg)
		cmd.Dir = moduleRoot
		fb.out, fb.err = cmd.CombinedOutput()
		fb.took = time.Since(start)
		close(fb.done)
	}
}

// get waits for pkg's binary. A package not started yet goes first in the
// queue: with go test -run choosing a few targets, they need not wait for
// the packages of the others.
func (b *fuzzBuilder) get(pkg string) (*fuzzBuild, error) {
	b.mu.Lock()
	if i := slices.Index(b.pending, pkg); i > 0 {
		b.pending = slices.Insert(slices.Delete(b.pending, i, i+1), 0, pkg)
	}
	b.mu.Unlock()
	fb := b.builds[pkg]
	select {
	case <-fb.done:
	case <-b.ctx.Done():
		return nil, fmt.Errorf("not fuzzed: building %s: %w", pkg, context.Cause(b.ctx))
	}
	if fb.err != nil {
		return nil, fmt.Errorf("go test -c -fuzz=. %s: %v\n%s", pkg, fb.err, fb.out)
	}
	return fb, nil
}

// wait waits for the build under way, if any, to stop.
func (b *fuzzBuilder) wait() { b.wg.Wait() }

// took is the time spent building the packages built so far.
func (b *fuzzBuilder) took() (d time.Duration, built int) {
	for _, fb := range b.builds {
		select {
		case <-fb.done:
			d += fb.took
			built++
		default:
		}
	}
	return d, built
}

// fuzzPlan shares the pass's budget among the targets. Each target gets an
// equal share of what is left when it starts, less the start-up and
// shutdown time the targets so far took beyond their -fuzztime; so time a
// slow build or a loaded machine took comes out of the later targets'
// fuzzing, not on top of the budget. No target gets less than floor: on a
// machine too slow for the budget the pass runs over it by at most about
// floor per target, and the test's own deadline (hard) bounds it. Nor more
// than most, twice an equal share of the whole budget: when go test -run
// picks a few targets, the last one does not get all that is left.
type fuzzPlan struct {
	end   time.Time     // the budget runs out
	hard  time.Time     // no target may still run then: the test's deadline less a margin
	floor time.Duration // least -fuzztime for a target
	most  time.Duration // most -fuzztime for a target
	fixed time.Duration // DPSCTL_FUZZTIME: the same -fuzztime for every target, budget aside
	grace time.Duration // how long past its -fuzztime a target may take to stop before it is interrupted

	extra time.Duration // start-up and shutdown beyond -fuzztime, summed over the runs so far
	runs  int
}

// next returns the -fuzztime for the next target, with left targets still
// to run (this one included), or an error if the test's deadline is too
// near to run one.
func (p *fuzzPlan) next(now time.Time, left int) (time.Duration, error) {
	d := p.fixed
	if d == 0 {
		overhead := time.Second // a guess until a target has run
		if p.runs > 0 {
			overhead = p.extra / time.Duration(p.runs)
		}
		d = p.end.Sub(now)/time.Duration(left) - overhead
		d = max(min(d, p.most).Round(100*time.Millisecond), p.floor)
	}
	// A target takes a fraction of a second past its -fuzztime, a few
	// seconds on a loaded machine; one that would end within half a minute
	// of the deadline does not start.
	if !p.hard.IsZero() && now.Add(d+30*time.Second).After(p.hard) {
		return 0, fmt.Errorf("%s left before the test's deadline, too little to fuzz for %s and stop; "+
			"raise go test's -timeout (a first pass on empty caches builds for minutes)", p.hard.Sub(now).Round(time.Second), d)
	}
	return d, nil
}

// record notes how long a target took in all for its -fuzztime.
func (p *fuzzPlan) record(fuzztime, took time.Duration) {
	p.extra += max(took-fuzztime, 0)
	p.runs++
}

// fuzzRun is what one fuzzing binary run left behind.
type fuzzRun struct {
	out      []byte
	err      error         // from exec: nil when the target passed
	code     int           // exit status; -1 if it did not exit on its own
	killed   bool          // stopped by us, past its deadline
	took     time.Duration // from start to exit
	crashers []string      // files the run added to testdata/fuzz/<target>, from the module's root
}

// runFuzzTarget fuzzes one target for fuzztime. The binary runs in the
// target's package directory so that the engine reads the committed corpus
// from, and writes a failing input to, testdata/fuzz/<target> there, as "go
// test -fuzz" does. The options, beyond those "go test -fuzz" passes:
//
//   - -fuzzminimizetime=0: the engine does not minimise. Minimising a new
//     interesting input only serves a cache thrown away after the run, and
//     the engine may still be at it when -fuzztime runs out; a failing input
//     is then written as found, unminimised, and still fails the pass.
//   - -fuzzcachedir: a fresh directory of the caller's, not the user's
//     GOCACHE, so the run starts from the committed corpus and the seeds
//     alone, whatever fuzzing the machine did before; its start-up time does
//     not grow with the cache.
//   - -parallel=2: two fuzzing workers, as many as the two cores CI has.
//     The rest of go test ./... runs beside the pass, and one worker would
//     leave it more CPU time; but on a busy machine the scheduler's share
//     that a worker takes is small, so the run would end little sooner,
//     while the executions, and so the chance that a failing input turns
//     up within a target's few seconds, would halve.
//
// If the run is still going when ctx is done it is interrupted (the engine
// then stops its workers and writes any failing input) and killed soon
// after if need be.
func runFuzzTarget(ctx context.Context, bin string, tg fuzzTarget, fuzztime time.Duration, cachedir string) fuzzRun {
	corpus := filepath.Join(tg.path(), "testdata", "fuzz", tg.name)
	before := corpusFiles(corpus)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin,
		"-test.run=^$",
		"-test.fuzz=^"+tg.name+"$",
		"-test.fuzztime="+fuzztime.String(),
		"-test.fuzzminimizetime=0",
		"-test.fuzzcachedir="+cachedir,
		"-test.parallel=2",
	)
	cmd.Dir = tg.path()
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := fuzzRun{out: out.Bytes(), err: err, code: cmd.ProcessState.ExitCode(), killed: err != nil && ctx.Err() != nil, took: time.Since(start)}
	for _, f := range corpusFiles(corpus) {
		if !slices.Contains(before, f) {
			r.crashers = append(r.crashers, tg.dir+"/testdata/fuzz/"+tg.name+"/"+f)
		}
	}
	return r
}

// corpusFiles lists the file names in a corpus directory; none if it does
// not exist.
func corpusFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// fuzzVerdict is how a run of a target counts.
type fuzzVerdict int

const (
	fuzzPassed fuzzVerdict = iota
	// fuzzDeadlineQuirk: the engine failed the target with a bare "context
	// deadline exceeded" when -fuzztime ran out, and wrote no failing input.
	// With a -fuzztime given as a duration, the engine's coordinator stops
	// on a context deadline, and can mistake that deadline for a worker's
	// error in the moment between the deadline firing and its workers'
	// context being cancelled; a starved machine makes that more likely. No
	// input failed, so this counts as a pass.
	fuzzDeadlineQuirk
	fuzzFailed
)

var failingInput = regexp.MustCompile(`Failing input written to (\S+)`)

// judgeFuzzRun says how a run of target name counts, and why if not as a
// plain pass. Any input the run added to the target's corpus fails it, as
// does anything else that made the run fail but the deadline quirk.
func judgeFuzzRun(name string, r fuzzRun, fuzztime time.Duration) (fuzzVerdict, string) {
	switch {
	case len(r.crashers) > 0:
		return fuzzFailed, "failing input written to " + strings.Join(r.crashers, ", ")
	case failingInput.Match(r.out):
		return fuzzFailed, "failing input written to " + string(failingInput.FindSubmatch(r.out)[1])
	case r.killed:
		return fuzzFailed, fmt.Sprintf("still running %s after it was due to stop; interrupted", r.took.Round(time.Second))
	case r.err == nil:
		if bytes.Contains(r.out, []byte("no fuzz tests to fuzz")) || !bytes.Contains(r.out, []byte("fuzz: elapsed:")) {
			return fuzzFailed, "the target did not fuzz"
		}
		return fuzzPassed, ""
	}
	if r.code == 1 && r.took >= fuzztime &&
		slices.Equal(failureMessage(r.out, name), []string{context.DeadlineExceeded.Error()}) {
		return fuzzDeadlineQuirk, fmt.Sprintf("the engine reported %q as -fuzztime ran out, and wrote no failing input", context.DeadlineExceeded.Error())
	}
	return fuzzFailed, r.err.Error()
}

// failureMessage returns the non-blank lines the test output indents under
// "--- FAIL: name (…)", trimmed; nil if there is no such line.
func failureMessage(out []byte, name string) []string {
	var msg []string
	in := false
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "--- FAIL: "+name+" (") {
			if in {
				return nil // two failures of the target: not a bare engine error
			}
			in, msg = true, []string{}
			continue
		}
		if !in {
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "    ") {
			in = false
			continue
		}
		msg = append(msg, strings.TrimSpace(line))
	}
	return msg
}

// describeCrashers shows each failing input the run wrote, and how to
// re-run it; the files stay for the developer.
func describeCrashers(tg fuzzTarget, files []string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(moduleRoot, filepath.FromSlash(f)))
		if err != nil {
			fmt.Fprintf(&b, "\n%s: %v", f, err)
			continue
		}
		const most = 4 << 10
		more := ""
		if len(data) > most {
			data, more = data[:most], fmt.Sprintf("\n[%d more bytes]", len(data)-most)
		}
		fmt.Fprintf(&b, "\n%s:\n%s%s\nto re-run: go test -run='^%s$/^%s$' ./%s",
			f, data, more, tg.name, filepath.Base(f), tg.dir)
	}
	return b.String()
}

// lastStatus is the engine's last progress line, for the log.
func lastStatus(out []byte) string {
	var last string
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "fuzz: elapsed:") {
			last = strings.TrimSpace(line)
		}
	}
	return last
}

// fuzzPassSettings reads DPSCTL_FUZZ_BUDGET and DPSCTL_FUZZTIME.
func fuzzPassSettings() (budget, fixed time.Duration, err error) {
	budget = 150 * time.Second
	if s := os.Getenv("DPSCTL_FUZZ_BUDGET"); s != "" {
		if budget, err = time.ParseDuration(s); err != nil || budget <= 0 {
			return 0, 0, fmt.Errorf("DPSCTL_FUZZ_BUDGET=%q: want a positive duration", s)
		}
	}
	if s := os.Getenv("DPSCTL_FUZZTIME"); s != "" {
		if fixed, err = time.ParseDuration(s); err != nil || fixed <= 0 {
			return 0, 0, fmt.Errorf("DPSCTL_FUZZTIME=%q: want a positive duration", s)
		}
	}
	return budget, fixed, nil
}

// TestFuzzRunVerdict pins how the pass reads the engine's results, above
// all that the deadline quirk passes and a failing input never does.
func TestFuzzRunVerdict(t *testing.T) {
	const quirk = "fuzz: elapsed: 0s, gathering baseline coverage: 0/9 completed\n" +
		"fuzz: elapsed: 4s, execs: 40304 (13431/sec), new interesting: 4 (total: 13)\n" +
		"--- FAIL: FuzzX (4.01s)\n    context deadline exceeded\nFAIL\n"
	const crash = "fuzz: elapsed: 1s, execs: 99 (99/sec), new interesting: 0 (total: 9)\n" +
		"--- FAIL: FuzzX (1.20s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:12: boom\n    \n" +
		"    Failing input written to testdata/fuzz/FuzzX/0123abcd\n    To re-run:\n    go test -run=FuzzX/0123abcd\nFAIL\n"
	const seed = "failure while testing seed corpus entry: FuzzX/seed#0\n" +
		"fuzz: elapsed: 0s, gathering baseline coverage: 0/9 completed\n" +
		"--- FAIL: FuzzX (0.02s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:12: boom\n    \nFAIL\n"
	const ownDeadline = "--- FAIL: FuzzX (4.01s)\n    --- FAIL: FuzzX (0.00s)\n        context deadline exceeded\nFAIL\n"
	const pass = "fuzz: elapsed: 4s, execs: 40304 (13431/sec), new interesting: 4 (total: 13)\nPASS\n"
	run := func(out string, code int, took time.Duration, crashers ...string) fuzzRun {
		r := fuzzRun{out: []byte(out), code: code, took: took, crashers: crashers}
		if code != 0 {
			r.err = fmt.Errorf("exit status %d", code)
		}
		return r
	}
	interrupted := run(quirk, 1, 99*time.Second)
	interrupted.killed = true
	for _, c := range []struct {
		name string
		run  fuzzRun
		want fuzzVerdict
	}{
		{"pass", run(pass, 0, 4*time.Second), fuzzPassed},
		{"no such target", run("testing: warning: no fuzz tests to fuzz\nPASS\n", 0, time.Second), fuzzFailed},
		{"quirk", run(quirk, 1, 4100*time.Millisecond), fuzzDeadlineQuirk},
		{"quirk before -fuzztime", run(quirk, 1, 2*time.Second), fuzzFailed},
		{"quirk with a new input", run(quirk, 1, 5*time.Second, "testdata/fuzz/FuzzX/0123abcd"), fuzzFailed},
		{"quirk of another target", run(strings.ReplaceAll(quirk, "FuzzX", "FuzzY"), 1, 5*time.Second), fuzzFailed},
		{"quirk, exit status 2", run(quirk, 2, 5*time.Second), fuzzFailed},
		{"quirk, interrupted", interrupted, fuzzFailed},
		{"crasher", run(crash, 1, 5*time.Second, "testdata/fuzz/FuzzX/0123abcd"), fuzzFailed},
		{"crasher not seen on disk", run(crash, 1, 5*time.Second), fuzzFailed},
		{"seed fails", run(seed, 1, 5*time.Second), fuzzFailed},
		{"the target's own deadline", run(ownDeadline, 1, 5*time.Second), fuzzFailed},
	} {
		if got, why := judgeFuzzRun("FuzzX", c.run, 4*time.Second); got != c.want {
			t.Errorf("%s: verdict %d (%s), want %d", c.name, got, why, c.want)
		}
	}
}

// TestFuzzPlan checks the sharing of the budget: equal shares of what is
// left, the overhead seen so far taken off, never under the floor, and a
// refusal when the test's deadline is too near.
func TestFuzzPlan(t *testing.T) {
	now := time.Now()
	p := fuzzPlan{end: now.Add(100 * time.Second), hard: now.Add(300 * time.Second), floor: 2 * time.Second, most: 20 * time.Second, grace: 60 * time.Second}
	if d, err := p.next(now, 10); err != nil || d != 9*time.Second {
		t.Fatalf("first share: %v, %v; want 9s", d, err)
	}
	p.record(9*time.Second, 9500*time.Millisecond)
	now = now.Add(10 * time.Second)
	if d, err := p.next(now, 9); err != nil || d != 9500*time.Millisecond {
		t.Fatalf("second share: %v, %v; want 9.5s", d, err)
	}
	if d, err := p.next(now.Add(10*time.Second), 1); err != nil || d != p.most {
		t.Fatalf("share of the last target: %v, %v; want %v", d, err, p.most)
	}
	now = now.Add(120 * time.Second) // a slow build: the budget is spent
	if d, err := p.next(now, 8); err != nil || d != p.floor {
		t.Fatalf("share past the budget: %v, %v; want the floor", d, err)
	}
	now = now.Add(150 * time.Second) // 20s before the hard deadline
	if d, err := p.next(now, 7); err == nil {
		t.Fatalf("share near the deadline: %v, want an error", d)
	}
	p.fixed = 30 * time.Second
	if d, err := p.next(now.Add(-200*time.Second), 7); err != nil || d != p.fixed {
		t.Fatalf("DPSCTL_FUZZTIME: %v, %v; want %v", d, err, p.fixed)
	}
}

// TestFindFuzzTargets: the pass finds the module's fuzz tests, named from
// the module's root.
func TestFindFuzzTargets(t *testing.T) {
	targets, err := findFuzzTargets(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(targets, fuzzTarget{dir: "pkg/sas", name: "FuzzParseToken"}) {
		t.Errorf("pkg/sas/FuzzParseToken not among %v", targets)
	}
	for _, tg := range targets {
		if strings.HasPrefix(tg.dir, ".") || strings.Contains(tg.dir, "testdata") {
			t.Errorf("target %s", tg)
		}
	}
}
