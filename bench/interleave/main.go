// Command interleave runs commands alternately, one after the other in each
// round, and prints each one's median wall time and its ratio to the first
// command's: a same-loop comparison of two builds (or of a build against a
// baseline) on a machine whose speed drifts. Commands are separated by ";;":
//
//	go run ./bench/interleave 400 -- /tmp/hello ";;" /tmp/dpsctl-before version ";;" /tmp/dpsctl-after version
package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, `usage: interleave ROUNDS -- CMD [ARGS] [";;" CMD [ARGS]]...`)
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[1])
	if err != nil || rounds < 1 {
		fmt.Fprintf(os.Stderr, "interleave: rounds %q: want a positive number\n", os.Args[1])
		os.Exit(2)
	}
	var cmds [][]string
	cur := []string{}
	for _, a := range os.Args[3:] {
		if a == ";;" {
			cmds = append(cmds, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	cmds = append(cmds, cur)
	for _, c := range cmds {
		if len(c) == 0 {
			fmt.Fprintln(os.Stderr, "interleave: empty command")
			os.Exit(2)
		}
	}
	times := make([][]time.Duration, len(cmds))
	for range rounds {
		for i, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			var stderr strings.Builder
			cmd.Stderr = &stderr // stdout goes to the null device, as in ./bench
			start := time.Now()
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "interleave: %s: %v\n%s", strings.Join(c, " "), err, stderr.String())
				os.Exit(1)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	first := median(times[0])
	for i, c := range cmds {
		m := median(times[i])
		fmt.Printf("%-60s median %8.2f ms  x%.2f\n", strings.Join(c, " "), float64(m.Microseconds())/1000, float64(m)/float64(first))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
