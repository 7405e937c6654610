#!/usr/bin/env bash
# The runs behind docs/performance.md. Each writes bench/results/NAME.json (medians of 3 runs,
# every run kept under "runs"; a profile run keeps its summary under "profile") and logs to
# bench-results/NAME.log. Run from the repo root after `npx tsc -b`:
#
#   bench/report.sh [NAME ...]      names or globs, e.g. bench/report.sh 'dm-*' sync   (default: everything)
#
# SERVER_CLI=path/to/cli.js measures that server build instead of packages/server/dist (to pin
# a snapshot while others rebuild). --wait-quiet/--max-other keep runs that other jobs on a
# shared machine disturbed out of the medians. About an hour on 2 cores. Every report also
# measures the bare relay before and after its runs (bench/results/relay-before.json and
# relay-after.json): the machine's speed while the report ran.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results bench-results
Q=(--wait-quiet 30 --max-other 40)
[[ -n ${SERVER_CLI:-} ]] && Q+=(--server-cli "$SERVER_CLI")
only=("$@")
run() {
  local name=$1
  shift
  if ((${#only[@]} > 0)); then
    local p hit=
    for p in "${only[@]}"; do [[ $name == $p ]] && hit=1; done
    [[ -z $hit ]] && return 0
  fi
  echo "== $name: npm run bench -- $*"
  node bench/dist/cli.js "$@" "${Q[@]}" --json "bench/results/$name.json" >"bench-results/$name.log" 2>&1 ||
    echo "   (exit $?; see bench-results/$name.log)"
  grep -E '^(delivered_per_s|p99_ms|lost|duplicated|ratio_to_relay|connects_per_s|bytes_per_conn|catchup_s|page_p99_ms) ' \
    "bench-results/$name.log" || true
}

# The machine's speed before and after the runs (relay-before.json, relay-after.json):
# figures from different reports compare as ratios to it (docs/performance.md, "Machine and method").
speed() {
  echo "== relay-$1 (machine speed): npm run bench -- --scenario relay --clients 1000 --rate 0 --duration 5"
  node bench/dist/cli.js --scenario relay --clients 1000 --rate 0 --duration 5 \
    --json "bench/results/relay-$1.json" >"bench-results/relay-$1.log" 2>&1 ||
    echo "   (exit $?; see bench-results/relay-$1.log)"
  grep -E '^delivered_per_s ' "bench-results/relay-$1.log" || true
}
trap 'speed after' EXIT
speed before

run dm-max --scenario dm --clients 1000 --rate 0 --duration 10 --compare-relay --repeat 3
run dm-10k --scenario dm --clients 1000 --rate 10000 --duration 10 --repeat 3
run dm-max-shm --scenario dm --clients 1000 --rate 0 --duration 10 --repeat 3 --data-parent /dev/shm
run dm-10k-shm --scenario dm --clients 1000 --rate 10000 --duration 10 --repeat 3 --data-parent /dev/shm
run dm-sweep --sweep 2000,4000,6000,8000,10000,12000,14000 --clients 1000 --duration 10 --compare-relay \
  --chart bench/results/dm-latency.svg
run group-max --scenario group --clients 1000 --rate 0 --duration 10 --repeat 3
run group-half --scenario group --clients 1000 --rate 500 --duration 10 --repeat 3
run group-150k --scenario group --clients 1000 --rate 1500 --duration 10 --repeat 3
run idle-19000 --scenario idle --clients 19000 --duration 10 --repeat 3
run idle-10000 --scenario idle --clients 10000 --duration 10 --repeat 3
run sync --scenario sync --clients 10000 --missed 20 --repeat 3
run history --scenario history --history-size 1000000 --rate 5000 --duration 10 --repeat 3
run history-shm --scenario history --history-size 1000000 --rate 5000 --duration 10 --repeat 3 --data-parent /dev/shm
run history-quiet --scenario history --history-size 1000000 --rate 100 --duration 10
run search --scenario search --search-size 1000000 --rate 5000 --duration 10 --repeat 3
run media --scenario media --rate 5000 --upload-rate 50 --duration 10 --repeat 3
# The local cluster (1 API + 3 chat servers on PostgreSQL + Redis), same dm workload.
run cluster-dm-max --scenario dm --cluster --clients 1000 --rate 0 --duration 10 --repeat 3
run cluster-dm-5k --scenario dm --cluster --clients 1000 --rate 5000 --duration 10 --repeat 3
# The same after 5 s of warmup instead of 2: the cluster's steady state without its cold start.
run cluster-dm-5k-warm --scenario dm --cluster --clients 1000 --rate 5000 --duration 10 --warmup 5 --repeat 3
# A reconnect storm against the cluster (not a target; one run, ~5 minutes with seeding).
run cluster-sync --scenario sync --cluster --clients 10000 --missed 20
run cluster-dm-sweep --sweep 1000,2000,3000,4000,5000 --cluster --clients 1000 --duration 10 \
  --chart bench/results/cluster-dm-latency.svg
# CPU profiles of the server (every thread) over the measured window; one run each.
P=(--profile bench-results/profiles)
run profile-dm-max --scenario dm --clients 1000 --rate 0 --duration 10 "${P[@]}"
run profile-dm-10k --scenario dm --clients 1000 --rate 10000 --duration 10 "${P[@]}"
run profile-group-max --scenario group --clients 1000 --rate 0 --duration 10 "${P[@]}"
run profile-idle --scenario idle --clients 19000 --duration 10 "${P[@]}"
run profile-sync --scenario sync --clients 10000 --missed 20 "${P[@]}"
run profile-history --scenario history --history-size 1000000 --rate 5000 --duration 10 "${P[@]}"
run profile-cluster-dm --scenario dm --cluster --clients 1000 --rate 2000 --duration 10 "${P[@]}"
