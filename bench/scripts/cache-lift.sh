#!/usr/bin/env bash
# cache-lift.sh measures how much the record cache lifts GET one on
# PostgreSQL: `tortoise serve` is restarted for every run with the cache on
# (TORTOISE_CACHE_MB=64) or off (0), in the order off, on, on, off per
# cycle, on one database of 10k records (seeded by the first run), the
# request log on. It prints each run's ceiling, get req/s and the ceiling
# served from a process of its own (the bench's ceiling-proc: the most a
# hit could serve), then the medians, the lift, and what share of that
# most the hits reached. See docs/benchmarks.md (issue 11).
#
#   go build -o /tmp/T ./cmd/tortoise && go build -o /tmp/B ./bench
#   bench/scripts/cache-lift.sh -b /tmp/B -t /tmp/T -n 4 -k net/http \
#       'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
#
# A database cache_lift is created beside the URL's (dropped first, left
# after the run). Needs curl, python3 and psql.
set -euo pipefail
bench=/tmp/B bin=/tmp/T cycles=4 client=net/http records=10000
while getopts b:t:n:k:r: o; do
	case $o in
	b) bench=$OPTARG ;; t) bin=$OPTARG ;; n) cycles=$OPTARG ;; k) client=$OPTARG ;; r) records=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-b bench] [-t tortoise] [-n cycles] [-k net/http|raw] [-r records] postgres-url" >&2; exit 2; }

email=admin@example.com password='a-long-password' port=18400
. "$(dirname "$0")/lib.sh"
url=$(fresh_db "$1" cache_lift)
work=$(mktemp -d)
pid=""
trap '[ -z "$pid" ] || kill $pid 2>/dev/null; rm -rf "$work"' EXIT
"$bin" superuser upsert "$email" "$password" --dir "$work" --db "$url" >/dev/null

echo "cycle cache ceiling get ceiling-proc"
for c in $(seq "$cycles"); do
	for mb in 0 64 64 0; do
		TORTOISE_CACHE_MB=$mb TORTOISE_LOG_LEVEL=warn TORTOISE_DATABASE_URL=$url "$bin" serve --http 127.0.0.1:$port --dir "$work" >/dev/null 2>&1 &
		pid=$!
		wait_healthy $port
		out=$("$bench" -url http://127.0.0.1:$port -email "$email" -password "$password" -records "$records" -reuse \
			-conns 64 -duration 8s -warmup 2s -scenarios get,ceiling-proc -client "$client" 2>/dev/null)
		echo "$c $([ $mb = 0 ] && echo off || echo on) $(echo "$out" | awk '/^ceiling \(bare/ {c = $(NF-4)} /^get one/ {g = $(NF-4)} /^ceiling, own/ {p = $(NF-4)} END {print c, g, p}')"
		kill $pid && wait $pid 2>/dev/null || true
		pid=""
	done
done | tee "$work/runs"

python3 - "$work/runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
procs = []
cycles = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    c, state, ceiling, get, proc = line.split()
    runs[state].append(float(get))
    cycles[c][state].append(float(get))
    procs.append(float(proc))
off, on = statistics.median(runs["off"]), statistics.median(runs["on"])
per = " ".join(f"{statistics.mean(v['on']) / statistics.mean(v['off']):.2f}" for v in cycles.values())
print(f"get req/s off {off:.0f}, on {on:.0f}: lift {on / off:.2f}x (per cycle {per})")
proc = statistics.median(procs)
print(f"ceiling in its own process {proc:.0f}: hits reach {on / proc:.2f} of it; the most any lift could be here {proc / off:.2f}x")
PY
