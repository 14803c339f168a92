#!/bin/sh
# store.sh DIR VALUE: a toy protected resource. It accepts a write only when
# the writer's fencing token ($LOCKSTEP_FENCING_TOKEN) is at least the
# highest token it has seen, and remembers that token. A writer whose lock
# expired and was taken by someone else carries an older token and is
# rejected (exit 1), even though it still believes it holds the lock.
set -eu
dir=$1
value=$2
token=${LOCKSTEP_FENCING_TOKEN:?store.sh: no LOCKSTEP_FENCING_TOKEN: run me under a lockstep lock}
mkdir -p "$dir"

# The resource checks and writes in one critical section of its own, as a
# database would in one transaction (UPDATE ... WHERE fence <= $token).
exec 9>"$dir/.lock"
flock 9

last=$(cat "$dir/fence" 2>/dev/null || echo 0)
if [ "$token" -lt "$last" ]; then
	echo "store: rejected write \"$value\": fencing token $token is older than $last" >&2
	exit 1
fi
printf '%s\n' "$token" >"$dir/fence"
printf '%s %s\n' "$token" "$value" >>"$dir/data"
echo "store: accepted write \"$value\" with fencing token $token"
