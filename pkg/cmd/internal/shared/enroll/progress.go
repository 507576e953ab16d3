package enroll

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
)

// progress is the one-line progress display on stderr, shown only when
// stderr is a terminal.
type progress struct {
	errOut  io.Writer
	enabled bool
	width   int
	now     func() time.Time
	start   time.Time
	phase   string
	last    time.Time
	shown   bool
}

func newProgress(ios *iostreams.IOStreams) *progress {
	return &progress{errOut: ios.ErrOut, enabled: ios.IsStderrTTY(), width: ios.TerminalWidth(), now: time.Now}
}

// redraw is the least time between two redraws.
const redraw = 100 * time.Millisecond

// update shows done of total units of a phase, with the rate and the time
// left.
func (p *progress) update(phase string, done, total int64, unit string) {
	if !p.enabled {
		return
	}
	now := p.now()
	if phase != p.phase {
		p.phase, p.start = phase, now
	}
	if now.Sub(p.last) < redraw && done < total {
		return
	}
	p.last = now
	fmt.Fprint(p.errOut, "\r"+p.line(phase, done, total, unit, now.Sub(p.start))+"\x1b[K")
	p.shown = true
}

func (p *progress) line(phase string, done, total int64, unit string, elapsed time.Duration) string {
	pct := 0.0
	if total > 0 {
		pct = float64(done) / float64(total)
	}
	const barWidth = 24
	filled := min(int(pct*barWidth), barWidth)
	bar := "[" + strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled) + "]"
	var count, rate string
	secs := elapsed.Seconds()
	if unit == "bytes" {
		count = fmt.Sprintf("%s/%s", mb(done), mb(total))
		if secs > 0 {
			rate = mb(int64(float64(done)/secs)) + "/s"
		}
	} else {
		count = fmt.Sprintf("%s/%s %s", thousands(done), thousands(total), unit)
		if secs > 0 {
			rate = thousands(int64(float64(done)/secs)) + " " + unit + "/s"
		}
	}
	eta := "--"
	if done > 0 && total > done && secs > 0 {
		left := time.Duration(float64(total-done) / (float64(done) / secs) * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	s := fmt.Sprintf("%-9s %s %3.0f%%  %s  %s  ETA %s", phase, bar, pct*100, count, rate, eta)
	if p.width > 0 && len(s) >= p.width {
		s = s[:p.width-1]
	}
	return s
}

// clear erases the progress line so other text can be printed.
func (p *progress) clear() {
	if p.enabled && p.shown {
		fmt.Fprint(p.errOut, "\r\x1b[K")
		p.shown = false
		p.last = time.Time{}
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// thousands formats n with thousands separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// summary is what an import did, printed at the end.
type summary struct {
	File      string  `json:"file"`
	Mode      string  `json:"mode"`
	Rows      int     `json:"rows"`
	Created   int     `json:"created"`
	Updated   int     `json:"updated"`
	Unchanged int     `json:"unchanged"`
	Deleted   int     `json:"deleted"`
	Failed    int     `json:"failed"`
	Requests  int64   `json:"requests"`
	Retries   int64   `json:"retries"`
	Throttled int64   `json:"throttled"`
	Seconds   float64 `json:"seconds"`
	Stopped   string  `json:"stopped,omitempty"`

	writing time.Duration
}

func newSummary(file string, mode importer.Mode, s importer.Summary, total, writing time.Duration) summary {
	out := summary{
		File: file, Mode: string(mode), Rows: s.Rows,
		Created: s.Outcomes[importer.Created], Updated: s.Outcomes[importer.Updated],
		Unchanged: s.Outcomes[importer.Unchanged], Deleted: s.Outcomes[importer.Deleted], Failed: s.Outcomes[importer.Failed],
		Requests: s.Requests, Retries: s.Retries, Throttled: s.Throttled,
		Seconds: total.Round(time.Millisecond).Seconds(), writing: writing,
	}
	if s.Stopped != nil {
		out.Stopped = s.Stopped.Error()
	}
	return out
}

// print writes the summary: data on stdout for -o json and yaml, a status
// table on stderr otherwise.
func (s summary) print(ios *iostreams.IOStreams, p *output.Printer) error {
	if f := p.Format(); f == output.FormatJSON || f == output.FormatYAML || p.HasQuery() {
		return p.PrintValue(s)
	}
	w := ios.ErrOut
	rate := ""
	if secs := s.writing.Seconds(); secs > 0 {
		rate = fmt.Sprintf(", %s rows/s written", thousands(int64(float64(s.Rows)/secs)))
	}
	fmt.Fprintf(w, "%s (mode %s): %s rows in %.2fs%s\n", s.File, s.Mode, thousands(int64(s.Rows)), s.Seconds, rate)
	for _, r := range []struct {
		name string
		n    int
	}{{"created", s.Created}, {"updated", s.Updated}, {"unchanged", s.Unchanged}, {"deleted", s.Deleted}, {"failed", s.Failed}} {
		fmt.Fprintf(w, "  %-10s %10s\n", r.name, thousands(int64(r.n)))
	}
	fmt.Fprintf(w, "  %-10s %10s  (%s retried, %s throttled)\n", "calls", thousands(s.Requests), thousands(s.Retries), thousands(s.Throttled))
	return nil
}
