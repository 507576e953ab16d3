# Shell plumbing the benchmark scripts share; source it after setting
# "work" (a scratch directory holding the dpsctl binary as $work/dpsctl).
#
#   start_serve DATA_DIR [FLAG...]  runs "dpsctl serve" on a free port of
#                                   127.0.0.1 and exports what clients need
#                                   to reach it (DPSCTL_CONNECTION_STRING,
#                                   DPSCTL_CA_FILE, DPSCTL_PEER_ADDR,
#                                   NODE_EXTRA_CA_CERTS)
#   stop_serve                      stops it
#   median                          the median of the numbers on stdin
#
# The EXIT trap it sets stops a service left running and removes $work.
serve_pid=
bench_cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap bench_cleanup EXIT

start_serve() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$work/dpsctl" serve --addr 127.0.0.1:0 --data-dir "$dir" "$@" 2> "$dir.log" &
	serve_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on https://127.0.0.1:[1-9]' "$dir.log" 2>/dev/null && break
		sleep 0.1
	done
	DPSCTL_CONNECTION_STRING=$("$work/dpsctl" serve info --data-dir "$dir" --show-keys --query connectionString -o tsv)
	DPSCTL_CA_FILE=$("$work/dpsctl" serve info --data-dir "$dir" --query caFile -o tsv)
	DPSCTL_PEER_ADDR=$("$work/dpsctl" serve info --data-dir "$dir" --query address -o tsv)
	NODE_EXTRA_CA_CERTS=$DPSCTL_CA_FILE
	export DPSCTL_CONNECTION_STRING DPSCTL_CA_FILE DPSCTL_PEER_ADDR NODE_EXTRA_CA_CERTS
}

stop_serve() {
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null || true
	serve_pid=
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
