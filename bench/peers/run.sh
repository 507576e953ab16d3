#!/usr/bin/env bash
# Peer benchmark: dpsctl against the official Node service SDK
# (azure-iot-provisioning-service, version pinned in package.json and
# package-lock.json, installed here by npm ci), side by side on the same
# "dpsctl serve" on 127.0.0.1, in one run:
#
#   import  N mixed TPM / X.509 / symmetric-key rows: "dpsctl enrollment
#           import FILE.csv" against bulk.js (bulk operations of 10, 32 in
#           flight, from the same rows as wire JSON), each into a fresh service
#   list    every enrollment as JSON: "dpsctl enrollment list -o json"
#           against list.js (the SDK's query, page by page); dpsctl's -o tsv
#           too, the floor of its JSON output
#   show    one enrollment as JSON, process start included: "dpsctl
#           enrollment show ID -o json" against show.js
#
# Every figure is the median of ROUNDS (import, list; default 3) or SHOWS
# (default 21) runs, the two sides interleaved so that both see the same
# machine, and is given as the ratio of the peer's time to dpsctl's.
#
#   bench/peers/run.sh [N]   (default 100000)
#
# Needs node and npm (Node.js 20), and GNU time (/usr/bin/time).
set -euo pipefail
N=${1:-100000}
ROUNDS=${ROUNDS:-3}
SHOWS=${SHOWS:-21}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
work=$(mktemp -d)
. bench/lib.sh
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); node $(node --version); load: $(uptime | sed 's/.*load average: //')"

(cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --silent)
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/dpsctl" ./cmd/dpsctl
go build -o "$work/gen" ./bench/import/gen
go build -o "$work/wire" ./bench/peers/wire
export HOME="$work" XDG_CONFIG_HOME="$work/config" DPSCTL_PROFILE= DPSCTL_OUTPUT=
"$work/gen" -n "$N" > "$work/enrollments.csv"
"$work/wire" < "$work/enrollments.csv" > "$work/enrollments.jsonl"

count() { "$work/dpsctl" enrollment list --quiet -o tsv --query '[].registrationId' | wc -l; }

# timed NAME CMD...: runs CMD with stdout to /dev/null and appends
# "seconds peak-RSS-MB" to $work/NAME.
timed() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$work/rss" "$@" > /dev/null 2> "$work/err" || { cat "$work/err" >&2; echo "$name failed" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.3f", d / 1e9}') $(($(cat "$work/rss") / 1024))" >> "$work/$name"
}
col() { cut -d' ' -f"$2" "$work/$1" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
peer=(node -r "$here/remap.js")

for round in $(seq "$ROUNDS"); do
	mkdir -p "$work/n.$round" "$work/d.$round"
	start_serve "$work/n.$round"
	timed import.node "${peer[@]}" "$here/bulk.js" "$work/enrollments.jsonl"
	[ "$(count)" = "$N" ] || { echo "node import: $(count) enrollments stored, want $N" >&2; exit 1; }
	stop_serve
	start_serve "$work/d.$round"
	timed import.dpsctl "$work/dpsctl" enrollment import "$work/enrollments.csv" --quiet
	[ "$(count)" = "$N" ] || { echo "dpsctl import: $(count) enrollments stored, want $N" >&2; exit 1; }
	[ "$round" = "$ROUNDS" ] || stop_serve
done
echo "import of $N rows: dpsctl $(col import.dpsctl 1)s, node SDK $(col import.node 1)s: dpsctl $(ratio "$(col import.node 1)" "$(col import.dpsctl 1)")x faster"

# The last round's service, holding the N rows, serves the reads.
for _ in $(seq "$ROUNDS"); do
	timed list.node "${peer[@]}" "$here/list.js"
	timed list.dpsctl "$work/dpsctl" enrollment list -o json --quiet
	timed list.tsv "$work/dpsctl" enrollment list -o tsv --quiet
done
echo "list $N as JSON: dpsctl $(col list.dpsctl 1)s ($(col list.dpsctl 2) MB), node SDK $(col list.node 1)s ($(col list.node 2) MB): dpsctl $(ratio "$(col list.node 1)" "$(col list.dpsctl 1)")x faster; dpsctl -o json is $(ratio "$(col list.dpsctl 1)" "$(col list.tsv 1)")x its -o tsv"

id=bench-0000003
for _ in $(seq "$SHOWS"); do
	timed show.node "${peer[@]}" "$here/show.js" "$id"
	timed show.dpsctl "$work/dpsctl" enrollment show "$id" -o json --quiet
done
echo "show one as JSON (process start included): dpsctl $(col show.dpsctl 1)s, node SDK $(col show.node 1)s: dpsctl $(ratio "$(col show.node 1)" "$(col show.dpsctl 1)")x faster"
