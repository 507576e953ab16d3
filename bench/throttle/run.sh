#!/usr/bin/env bash
# Throttled-import benchmark: "dpsctl enrollment import" against a
# "dpsctl serve --throttle Q" on 127.0.0.1 (HTTPS, SAS), at several quotas,
# with the import's defaults (no --rate, no --concurrency: the import must
# find the quota by itself). For each quota it prints the service calls the
# service took per minute against the quota, the share of calls throttled
# and the failed rows (which must be none).
#
#   bench/throttle/run.sh [SECONDS] [QUOTA...]  (defaults 30, 600 3000 12000)
#
# Each import is sized to take about SECONDS at its quota: ten rows a bulk
# call, Q/60 calls a second. The achieved rate is counted over the whole
# command, checking pass included, so it errs low; the service's burst (one
# second of its quota) lets a short run exceed the quota by about 1/SECONDS.
# The machine's load (uptime) is printed first. Figures go to
# docs/benchmarks.md.
set -euo pipefail
SECS=${1:-30}
shift || true
LEVELS=("$@")
[ ${#LEVELS[@]} -eq 0 ] && LEVELS=(600 3000 12000)
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
. bench/lib.sh
echo "load: $(uptime | sed 's/.*load average: //')"

CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/dpsctl" ./cmd/dpsctl
go build -o "$work/gen" ./bench/import/gen
export HOME="$work" XDG_CONFIG_HOME="$work/config" DPSCTL_PROFILE= DPSCTL_OUTPUT=


printf '%-10s %8s %8s %9s %10s %12s %10s %7s\n' quota rows seconds calls throttled "calls/min" "of quota" failed
for q in "${LEVELS[@]}"; do
	rows=$(awk -v q="$q" -v s="$SECS" 'BEGIN {printf "%d", q / 60 * s * 10}')
	"$work/gen" -n "$rows" -prefix "q$q" > "$work/rows-$q.csv"
	start_serve "$work/d$q" --throttle "$q"
	"$work/dpsctl" enrollment import "$work/rows-$q.csv" -o tsv \
		--query '[rows, seconds, requests, throttled, failed]' > "$work/sum-$q" 2> "$work/import-$q.err" || true
	stop_serve
	{ read -r n secs calls throttled failed; } < <(tr '\n' ' ' < "$work/sum-$q"; echo)
	if [ -z "${failed:-}" ]; then
		cat "$work/import-$q.err" >&2
		echo "the import printed no summary" >&2
		exit 1
	fi
	awk -v q="$q" -v n="$n" -v s="$secs" -v c="$calls" -v t="$throttled" -v f="$failed" 'BEGIN {
		took = c - t; per_min = took / s * 60
		printf "%-10d %8d %8.1f %9d %5d %3.1f%% %12.0f %9.1f%% %7d\n", q, n, s, c, t, 100 * t / (c > 0 ? c : 1), per_min, 100 * per_min / q, f
	}'
done
