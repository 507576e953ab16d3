#!/usr/bin/env bash
# Import benchmark: N mixed TPM / X.509 / symmetric-key enrollments checked
# and imported by "dpsctl enrollment import" into a "dpsctl serve" on
# 127.0.0.1 (HTTPS, SAS), with wall time, CPU time and peak RSS of the
# import and of the service; then a sequential loop of one create call per
# row through the client, on a sample of SEQ rows into a fresh service,
# extrapolated to N, and the speed-up of the import over it. ROUNDS=n
# (default 3) repeats both and reports the medians.
#
#   bench/import/run.sh [N] [SEQ] [BIG]  (defaults 100000, 2000, none)
#
# With BIG (such as 1000000), the same run then imports BIG rows once more
# into a fresh service and compares the peak memory of both sides with the
# N-row import: memory should stay flat whatever the size.
#
# CONCURRENCY=n passes --concurrency n to the import (default: the
# command's default). The machine's load (uptime) is printed first: other
# work on the machine slows both sides. Needs GNU time (/usr/bin/time).
# Last, bench/import/floor gives the floor: the same rows checked, encoded
# and inserted into SQLite in one transaction. Figures go to
# docs/benchmarks.md. bench/import/prof profiles each side.
set -euo pipefail
N=${1:-100000}
SEQ=${2:-2000}
BIG=${3:-}
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
. bench/lib.sh
echo "load: $(uptime | sed 's/.*load average: //')"

CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/dpsctl" ./cmd/dpsctl
go build -o "$work/gen" ./bench/import/gen
go build -o "$work/seq" ./bench/import/seq
go build -o "$work/floor" ./bench/import/floor
export HOME="$work" XDG_CONFIG_HOME="$work/config" DPSCTL_PROFILE= DPSCTL_OUTPUT=
echo "generating $N rows…" >&2
"$work/gen" -n "$N" > "$work/enrollments.csv"
"$work/gen" -n "$SEQ" -prefix seq > "$work/sample.csv"
ls -l "$work/enrollments.csv" | awk '{printf "file: %.1f MB\n", $5/1e6}'

# serve_usage: the service's peak RSS (MB) and CPU seconds so far.
serve_usage() {
	local hwm ticks
	hwm=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$serve_pid/status")
	ticks=$(awk '{print $14 + $15}' "/proc/$serve_pid/stat")
	echo "$hwm $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
}

# Each round imports the file into a fresh service and then times the
# sequential loop on another fresh service right after, so that both halves
# of a round's ratio see the same machine; the rounds' medians are reported.
ROUNDS=${ROUNDS:-3}
import_flags=(--quiet)
[ -n "${CONCURRENCY:-}" ] && import_flags+=(--concurrency "$CONCURRENCY")
: > "$work/rounds"
for round in $(seq "$ROUNDS"); do
	mkdir -p "$work/d1.$round" "$work/d2.$round"
	start_serve "$work/d1.$round"
	read -r _ serve_cpu0 < <(serve_usage)
	/usr/bin/time -v "$work/dpsctl" enrollment import "$work/enrollments.csv" "${import_flags[@]}" 2> "$work/import.err" || { cat "$work/import.err"; exit 1; }
	read -r serve_rss serve_cpu < <(serve_usage)
	serve_cpu=$(awk -v a="$serve_cpu" -v b="$serve_cpu0" 'BEGIN {printf "%.2f", a - b}')
	[ "$round" = 1 ] && sed -n '/rows in/,/calls/p' "$work/import.err"
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/import.err")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/import.err")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$work/import.err")
	count=$("$work/dpsctl" enrollment list --quiet | wc -l)
	stop_serve
	[ "$count" = "$N" ] || { echo "round $round: $count enrollments in the service, want $N" >&2; exit 1; }

	start_serve "$work/d2.$round"
	"$work/seq" -file "$work/sample.csv" -n "$N" > "$work/seq.out"
	stop_serve
	seq_s=$(sed -n 's/.*extrapolated to [0-9]* rows: \([0-9.]*\)s$/\1/p' "$work/seq.out")
	seq_rate=$(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$work/seq.out")
	import_s=$(echo "$wall" | awk -F: '{s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s}')
	ratio=$(awk -v a="$seq_s" -v b="$import_s" 'BEGIN {printf "%.1f", a / b}')
	echo "round $round: import of $N rows${CONCURRENCY:+ (--concurrency $CONCURRENCY)}: wall ${import_s}s, peak RSS $((rss / 1024)) MB, CPU ${cpu}s; service: peak RSS $serve_rss MB, CPU ${serve_cpu}s; $count enrollments stored; sequential loop ${seq_rate} rows/s, ${seq_s}s for $N rows; speed-up ${ratio}x"
	echo "$import_s $seq_s $ratio" >> "$work/rounds"
	echo "$((rss / 1024))" >> "$work/rounds.rss"
done
echo "median of $ROUNDS rounds: import $(cut -d' ' -f1 "$work/rounds" | median)s, sequential loop $(cut -d' ' -f2 "$work/rounds" | median)s, speed-up $(cut -d' ' -f3 "$work/rounds" | median)x"

# The floor: the same rows checked, encoded and inserted straight into a
# fresh SQLite store in one transaction, no HTTPS and no service between.
mkdir -p "$work/floor.d"
floor=$("$work/floor" -file "$work/enrollments.csv" -dir "$work/floor.d")
echo "$floor"
floor_s=$(echo "$floor" | sed -n 's/.*total \([0-9.]*\) s$/\1/p')
echo "import median / floor: $(awk -v a="$(cut -d' ' -f1 "$work/rounds" | median)" -v b="$floor_s" 'BEGIN {printf "%.1f", a / b}')x"
[ -z "$BIG" ] && exit 0

echo "generating $BIG rows…" >&2
"$work/gen" -n "$BIG" -prefix big > "$work/big.csv"
rss_n=$(tail -1 "$work/rounds.rss" 2>/dev/null || true)
mkdir -p "$work/big"
start_serve "$work/big"
/usr/bin/time -v "$work/dpsctl" enrollment import "$work/big.csv" "${import_flags[@]}" 2> "$work/import.err" || { cat "$work/import.err"; exit 1; }
read -r big_serve_rss _ < <(serve_usage)
big_wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/import.err")
big_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/import.err")
stop_serve
echo "import of $BIG rows: wall $big_wall, peak RSS $((big_rss / 1024)) MB (with $N rows: $rss_n MB); service: peak RSS $big_serve_rss MB (with $N rows: $serve_rss MB)"
