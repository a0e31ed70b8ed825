#!/usr/bin/env bash
# toggle.sh measures what a webhook on the bench collection costs a create:
# for each binary it starts `tortoise serve --role api` on a database of
# its own (no worker runs the deliveries, so only the enqueue is measured),
# seeds it, adds a webhook, then runs the bench's create scenario with the
# webhook switched off, on, on, off (PATCH {"disabled": …}) in each cycle,
# the binaries alternating cycle by cycle. It prints each run, then the
# medians per binary. See docs/benchmarks.md (issue 9).
#
#   go build -o /tmp/T ./cmd/tortoise && go build -o /tmp/B ./bench
#   bench/scripts/toggle.sh -b /tmp/B -c 64 -n 3 before=/tmp/T0 after=/tmp/T
#   bench/scripts/toggle.sh -d 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' after=/tmp/T
#
# -d: a PostgreSQL URL; a database toggle_NAME per binary is created beside
# it (dropped first, left after the run). Without -d: SQLite in a temporary
# folder per binary.
# Needs curl, python3 and, for -d, psql.
set -euo pipefail
bench=/tmp/B conns=1 cycles=4 secs=4s db=""
while getopts b:c:n:t:d: o; do
	case $o in
	b) bench=$OPTARG ;; c) conns=$OPTARG ;; n) cycles=$OPTARG ;; t) secs=$OPTARG ;; d) db=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-b bench] [-c conns] [-n cycles] [-t 4s] [-d postgres-url] name=binary ..." >&2; exit 2; }

email=admin@example.com password='a-long-password'
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
export TORTOISE_ENCRYPTION_KEY=${TORTOISE_ENCRYPTION_KEY:-$(openssl rand -hex 32)} # webhook secrets on PostgreSQL

. "$(dirname "$0")/lib.sh"
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }

port=18300
names=()
for spec in "$@"; do
	name=${spec%%=*} bin=${spec#*=}
	names+=("$name")
	dir=$work/$name url=""
	mkdir -p "$dir"
	if [ -n "$db" ]; then
		dbname=toggle_$name
		url=$(fresh_db "$db" "$dbname")
	fi
	"$bin" superuser upsert "$email" "$password" --dir "$dir" ${url:+--db "$url"} >/dev/null
	TORTOISE_LOG_LEVEL=warn TORTOISE_DATABASE_URL=$url "$bin" serve --http 127.0.0.1:$port --dir "$dir" --role api >"$dir/log" 2>&1 &
	pids+=($!)
	wait_healthy $port
	token=$(curl -sf -X POST 127.0.0.1:$port/api/collections/_superusers/auth-with-password -H 'Content-Type: application/json' \
		-d "{\"identity\":\"$email\",\"password\":\"$password\"}" | json '["token"]')
	curl -sf -X PATCH 127.0.0.1:$port/api/settings -H "Authorization: $token" -H 'Content-Type: application/json' \
		-d '{"rateLimits":{"enabled":false}}' >/dev/null # the bench logs in often
	"$bench" -url http://127.0.0.1:$port -email "$email" -password "$password" -records 1000 -conns 1 -duration 1s -warmup 0s -scenarios get >/dev/null 2>&1
	hook=$(curl -sf -X POST 127.0.0.1:$port/api/webhooks -H "Authorization: $token" -H 'Content-Type: application/json' \
		-d '{"collection":"bench_items","events":["create"],"url":"https://example.com/hook"}' | json '["id"]')
	echo "$port $token $hook" >"$work/$name.server"
	port=$((port + 1))
done

echo "cycle name webhook creates/s p50"
for c in $(seq "$cycles"); do
	for name in "${names[@]}"; do
		read -r port token hook <"$work/$name.server"
		for state in off on on off; do
			disabled=$([ $state = on ] && echo false || echo true)
			curl -sf -X PATCH 127.0.0.1:$port/api/webhooks/$hook -H "Authorization: $token" -H 'Content-Type: application/json' \
				-d "{\"disabled\":$disabled}" >/dev/null
			line=$("$bench" -url http://127.0.0.1:$port -email "$email" -password "$password" -records 1000 -reuse \
				-conns "$conns" -duration "$secs" -warmup 1s -scenarios create 2>/dev/null | grep -E '^create record')
			echo "$c $name $state $(echo "$line" | awk '{print $(NF-4), $(NF-3)}')"
		done
	done
done | tee "$work/runs"

python3 - "$work/runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    _, name, state, rps, p50 = line.split()
    us = float(p50[:-2]) * 1000 if p50.endswith("ms") else float(p50[:-2]) if p50.endswith("µs") else float(p50[:-1]) * 1e6
    runs[name, state].append((float(rps), us))
for name in dict.fromkeys(n for n, _ in runs):
    off, on = runs[name, "off"], runs[name, "on"]
    r0, r1 = (statistics.median(x[0] for x in v) for v in (off, on))
    p0, p1 = (statistics.median(x[1] for x in v) for v in (off, on))
    print(f"{name}: creates/s {r0:.0f} -> {r1:.0f} ({(r1 / r0 - 1) * 100:+.1f}%), p50 {p0:.0f} -> {p1:.0f} us ({(p1 / p0 - 1) * 100:+.1f}%), {len(off)}+{len(on)} runs")
PY
