# lib.sh: what the bench scripts share. Source it: . "$(dirname "$0")/lib.sh"

# fresh_db URL NAME drops and creates the database NAME on the server of
# the PostgreSQL URL, and prints URL with its database swapped for NAME.
fresh_db() {
	psql -q "$1" -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" >/dev/null
	python3 -c "import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(path='/' + sys.argv[2]).geturl())" "$1" "$2"
}

# wait_healthy PORT waits up to 10 s for a server on PORT to answer
# /api/health, and fails if it never does.
wait_healthy() {
	for _ in $(seq 100); do
		curl -sf "127.0.0.1:$1/api/health" >/dev/null && return 0
		sleep 0.1
	done
	echo "no server answered on port $1" >&2
	return 1
}
