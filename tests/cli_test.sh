#!/usr/bin/env bash
# tests/cli_test.sh CHI: the chi command end to end, with a real daemon:
# start (returns once clients can connect), a second start with the same name
# refused, status, config --print round trip, a bad key named with its line,
# stop (and status afterwards fails), a SIGKILLed daemon's stale segment
# removed by chi cleanup, and a fresh start on the same name afterwards, with
# chi stats and a /metrics scrape of --metrics-port (and a second runtime
# refused on that port); then a runtime of 70 workers, more than one
# admin.stats page holds: chi stats shows every worker and lane in the table,
# JSON (parsed by python3: ids in order, null and no negative numbers) and
# Prometheus text; the logs of its daemons are removed at the end.
set -u
chi=$1
export CHI_RUNTIME_NAME=cli$$
export CHI_RUNTIME_NUM_WORKERS=1
tmp=$(mktemp -d)
# the daemons' logs this test causes (the runtime and the one refused its port)
logs() { rm -f "/tmp/chi.$(id -u).$CHI_RUNTIME_NAME.log" "/tmp/chi.$(id -u).${CHI_RUNTIME_NAME}b.log" \
              "/tmp/chi.$(id -u).${CHI_RUNTIME_NAME}w.log"; }
trap logs EXIT
fail() { echo "FAIL: $*"; "$chi" stop >/dev/null 2>&1; rm -rf "$tmp"; exit 1; }
seg=/dev/shm/chi.$(id -u).$CHI_RUNTIME_NAME.main

"$chi" start >"$tmp/out" 2>&1 || fail "start: $(cat "$tmp/out")"
[ -e "$seg" ] || fail "no segment after start returned"
"$chi" start >"$tmp/out" 2>&1 && fail "second start with the same name succeeded"
grep -q "already running" "$tmp/out" || fail "second start message: $(cat "$tmp/out")"

"$chi" status >"$tmp/st" 2>&1 || fail "status: $(cat "$tmp/st")"
grep -q "^runtime   $CHI_RUNTIME_NAME$" "$tmp/st" || fail "status name: $(cat "$tmp/st")"
grep -q "^workers   1$" "$tmp/st" || fail "status workers: $(cat "$tmp/st")"
grep -q "test(1, test)" "$tmp/st" || fail "status pools: $(cat "$tmp/st")"
pid=$(awk '/^pid/{print $2}' "$tmp/st")
kill -0 "$pid" 2>/dev/null || fail "status pid $pid is not alive"

"$chi" config --print >"$tmp/c1" || fail "config --print"
CHI_SERVER_CONF=$tmp/c1 "$chi" config --print >"$tmp/c2" || fail "config --print of printed config"
cmp -s "$tmp/c1" "$tmp/c2" || fail "config --print does not round-trip"
printf 'runtime:\n  name: x\n  num_workerz: 3\n' >"$tmp/bad.yaml"
"$chi" config --print --config "$tmp/bad.yaml" >"$tmp/out" 2>&1 && fail "bad key accepted"
grep -q "bad.yaml:3: unknown key 'runtime.num_workerz'" "$tmp/out" || fail "bad key message: $(cat "$tmp/out")"

"$chi" stop >"$tmp/out" 2>&1 || fail "stop: $(cat "$tmp/out")"
[ -e "$seg" ] && fail "segment left after stop"
# gone, or a zombie its parent (PID 1) has not reaped yet: exited either way
state=$(awk '{sub(/.*\) /, ""); print $1}' "/proc/$pid/stat" 2>/dev/null || true)
[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] && fail "daemon $pid still running after stop (state $state)"
"$chi" status >/dev/null 2>&1 && fail "status succeeded after stop"

"$chi" start >/dev/null 2>&1 || fail "restart"
pid=$("$chi" status | awk '/^pid/{print $2}')
kill -9 "$pid"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
[ -e "$seg" ] || fail "killed daemon left no segment (nothing to clean)"
"$chi" cleanup --name "$CHI_RUNTIME_NAME" >"$tmp/out" || fail "cleanup"
grep -q "removed /chi.$(id -u).$CHI_RUNTIME_NAME.main (owner pid $pid is gone)" "$tmp/out" || fail "cleanup output: $(cat "$tmp/out")"
[ -e "$seg" ] && fail "cleanup left the stale segment"
port=$((20000 + $$ % 20000))
"$chi" start --metrics-port "$port" >/dev/null 2>&1 || fail "start after cleanup, with --metrics-port"
"$chi" stats >"$tmp/stats" 2>&1 || fail "chi stats: $(cat "$tmp/stats")"
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "nothing listens on 127.0.0.1:$port"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
cat <&3 >"$tmp/metrics"
exec 3>&-
head -1 "$tmp/metrics" | grep -q "200 OK" || fail "/metrics status: $(head -1 "$tmp/metrics")"
grep -q "^# TYPE chi_workers gauge" "$tmp/metrics" || fail "/metrics body: $(head -20 "$tmp/metrics")"
grep -q "^chi_workers{runtime=\"$CHI_RUNTIME_NAME\"} 1" "$tmp/metrics" || fail "/metrics workers line"
# a metrics port already taken fails the start, and leaves no runtime behind
other=${CHI_RUNTIME_NAME}b
CHI_RUNTIME_NAME=$other "$chi" start --metrics-port "$port" >"$tmp/out" 2>&1 &&
  { CHI_RUNTIME_NAME=$other "$chi" stop >/dev/null 2>&1; fail "start on a taken metrics port succeeded"; }
grep -q "cannot start runtime '$other': cannot serve metrics on 127.0.0.1:$port: Address already in use" "$tmp/out" ||
  fail "taken metrics port message: $(cat "$tmp/out")"
[ -e "/dev/shm/chi.$(id -u).$other.main" ] && fail "a failed start left its segment"
CHI_RUNTIME_NAME=$other "$chi" status >/dev/null 2>&1 && fail "a failed start left a runtime"
"$chi" stop >/dev/null 2>&1 || fail "final stop"

# every worker and lane of a runtime larger than one admin.stats page
many=${CHI_RUNTIME_NAME}w nw=70
stopw() { "$chi" stop --name "$many" >/dev/null 2>&1; }
CHI_RUNTIME_NUM_WORKERS=$nw "$chi" start --name "$many" >"$tmp/out" 2>&1 || fail "start $nw workers: $(cat "$tmp/out")"
"$chi" stats --name "$many" >"$tmp/stats" 2>&1 || { stopw; fail "chi stats: $(cat "$tmp/stats")"; }
nl=$(awk '/^runtime /{print $NF}' "$tmp/stats")
[ "$nl" -ge "$nw" ] 2>/dev/null || { stopw; fail "lanes in the table header: '$nl'"; }
ids=$(awk '/^worker /{w=1; next} w && /^$/{w=0} w{print $1}' "$tmp/stats" | tr '\n' ' ')
[ "$ids" = "$(seq -s ' ' 0 $((nw - 1))) " ] || { stopw; fail "table workers: $ids"; }
lids=$(awk '/^lane /{l=1; next} l && /^$/{l=0} l{print $1}' "$tmp/stats" | tr '\n' ' ')
[ "$lids" = "$(seq -s ' ' 0 $((nl - 1))) " ] || { stopw; fail "table lanes: $lids"; }
grep -q "not shown" "$tmp/stats" && { stopw; fail "the table left something out: $(cat "$tmp/stats")"; }
awk '/^worker /{w=1; next} w && /^$/{w=0} w && $NF != "-" {bad=1} END{exit bad}' "$tmp/stats" ||
  { stopw; fail "a worker without a role does not show '-': $(cat "$tmp/stats")"; }
"$chi" stats --name "$many" --json >"$tmp/json" 2>&1 || { stopw; fail "chi stats --json: $(cat "$tmp/json")"; }
if command -v python3 >/dev/null; then
  python3 - "$tmp/json" "$nw" "$nl" <<'PY' || { stopw; fail "chi stats --json: $(head -c 600 "$tmp/json")"; }
import json, sys
d = json.load(open(sys.argv[1]))
nw, nl = int(sys.argv[2]), int(sys.argv[3])
assert d["workers_running"] == nw, d["workers_running"]
assert [w["worker"] for w in d["workers"]] == list(range(nw)), "worker ids"
assert [l["lane"] for l in d["lanes"]] == list(range(nl)), "lane ids"
assert all(w["helps"] is None for w in d["workers"]), "helps of a worker that helps none"
assert all(l["gpu"] is None for l in d["lanes"]), "gpu of a CPU lane"
assert "workers_not_shown" not in d and "lanes_not_shown" not in d
neg = lambda x: (any(map(neg, x.values())) if isinstance(x, dict) else
                 any(map(neg, x)) if isinstance(x, list) else isinstance(x, int) and x < 0)
assert not neg(d), "a negative number"
PY
else
  echo "cli test: no python3, the JSON is checked with grep only"
fi
for i in 0 $((nw - 1)); do
  grep -q "{\"worker\":$i,\"tasks\":" "$tmp/json" || { stopw; fail "worker $i not in --json"; }
done
grep -q ':-' "$tmp/json" && { stopw; fail "a negative number in --json"; }
"$chi" stats --name "$many" --prometheus >"$tmp/prom" 2>&1 || { stopw; fail "chi stats --prometheus"; }
for i in $(seq 0 $((nw - 1))); do
  grep -q "^chi_worker_tasks_total{runtime=\"$many\",worker=\"$i\"} " "$tmp/prom" ||
    { stopw; fail "worker $i not in --prometheus"; }
done
"$chi" stop --name "$many" >/dev/null 2>&1 || fail "stop $many"
rm -rf "$tmp"
logs
ls /tmp/chi.$(id -u).$CHI_RUNTIME_NAME*.log >/dev/null 2>&1 && { echo "FAIL: logs left behind"; exit 1; }
echo "cli test: OK"
