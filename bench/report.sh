#!/usr/bin/env bash
# The runs behind docs/performance.md. Each writes bench/results/NAME.json (medians of 3 runs,
# every run kept under "runs"); logs go to bench-results/NAME.log. Run from the repo root after
# `npx tsc -b`. Takes about an hour on 2 cores; --wait-quiet/--max-other keep runs that other
# jobs on a shared machine disturbed out of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results bench-results
Q=(--wait-quiet 30 --max-other 40)
run() {
  local name=$1
  shift
  echo "== $name: npm run bench -- $*"
  node bench/dist/cli.js "$@" "${Q[@]}" --json "bench/results/$name.json" >"bench-results/$name.log" 2>&1 ||
    echo "   (exit $?; see bench-results/$name.log)"
  tail -n +1 "bench-results/$name.log" | grep -E '^(delivered_per_s|p99_ms|lost|duplicated|ratio_to_relay|connects_per_s|bytes_per_conn|catchup_s|page_p99_ms) ' || true
}
only=${1:-all}
want() { [[ $only == all || $only == *"$1"* ]]; }

want dm-max && run dm-max --scenario dm --clients 1000 --rate 0 --duration 10 --compare-relay --repeat 3
want dm-10k && run dm-10k --scenario dm --clients 1000 --rate 10000 --duration 10 --repeat 3
want dm-10k-shm && run dm-10k-shm --scenario dm --clients 1000 --rate 10000 --duration 10 --repeat 3 --data-parent /dev/shm
want sweep && run dm-sweep --sweep 2000,4000,6000,8000,10000,12000,14000 --clients 1000 --duration 10 \
  --compare-relay --repeat 3 --chart bench/results/dm-latency.svg
want group-max && run group-max --scenario group --clients 1000 --rate 0 --duration 10 --repeat 3
want group-half && run group-half --scenario group --clients 1000 --rate 500 --duration 10 --repeat 3
want idle-19000 && run idle-19000 --scenario idle --clients 19000 --duration 10 --repeat 3
want idle-10000 && run idle-10000 --scenario idle --clients 10000 --duration 10 --repeat 3
want sync && run sync --scenario sync --clients 10000 --missed 20 --repeat 3
want history && run history --scenario history --history-size 1000000 --rate 5000 --duration 10 --repeat 3
want history-shm && run history-shm --scenario history --history-size 1000000 --rate 5000 --duration 10 --repeat 3 \
  --data-parent /dev/shm
# CPU profiles of the server over the measured window (one run each; profiling slows it).
if want profiles; then
  for s in "dm --rate 0" "dm --rate 10000" "group --rate 0" "idle --clients 19000" "sync --clients 10000" \
    "history --history-size 1000000 --rate 5000"; do
    set -- $s
    name=profile-$1-$(echo "$s" | tr -dc '0-9' | head -c 8)
    run "$name" --scenario $s --duration 10 --profile bench-results/profiles
  done
fi
