#!/usr/bin/env bash
# tests/cli_conventions.sh CHI: the chi command's one convention, each
# behaviour asserted:
#  - --name on every subcommand (start, stop, status, stats, config, cleanup,
#    demo), positional arguments refused, --json with --prometheus refused,
#    a bad value named in its message (demo --threads 0, start
#    --metrics-port 0);
#  - a failed start prints its cause on the terminal (an unknown module, a
#    bdev in a directory that does not exist), and chi config --check (and
#    chi config check) finds both without starting anything;
#  - the daemon's log has timestamps, and no GPU is one info line there
#    (chi demo does not show it);
#  - chi stats shows every worker or says which it does not, '-' (JSON
#    null) as the latency of a lane without samples;
#  - config --print says what 0 means;
#  - and every log this test causes is removed.
set -u
chi=$1
uid=$(id -u)
name=clic$$
log=/tmp/chi.$uid.$name.log
tmp=$(mktemp -d)
unset CHI_RUNTIME_NAME CHI_SERVER_CONF
cleanup() {
  "$chi" stop --name "$name" >/dev/null 2>&1
  rm -rf "$tmp"
  rm -f "$log" "/tmp/chi.$uid.${name}b.log"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$log" ] && tail -5 "$log"; exit 1; }
# expect RC CMD...: run CMD, its status must be RC; output in $tmp/out
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, not $want: $(cat "$tmp/out")"
}
has() { grep -q -- "$1" "$tmp/out" || fail "no '$1' in: $(cat "$tmp/out")"; }

# --- positional arguments are refused, naming the argument
for cmd in start stop status stats cleanup demo; do
  expect 2 "$chi" $cmd stray
  has "chi $cmd: unexpected argument 'stray'"
done
expect 2 "$chi" config --print stray
has "chi config: unexpected argument 'stray'"
# --- mutually exclusive flags
expect 2 "$chi" stats --json --prometheus --name "$name"
has "\-\-json and --prometheus cannot be used together"
# --- bad values say what is wanted
expect 2 "$chi" demo --threads 0
has "chi demo: --threads wants a whole number from 1 to 256, not '0'"
expect 2 "$chi" demo --tasks 12abc
has "chi demo: --tasks wants a whole number"
expect 2 "$chi" start --name "$name" --metrics-port 0
has "chi start: --metrics-port wants a whole number from 1 to 65535, not '0'"
expect 2 "$chi" stats --name "$name" --watch 0
has "chi stats: --watch wants"
[ -e "$log" ] && fail "a refused command made a log"

# --- a failed start: the cause on the terminal
printf 'runtime: {name: %s}\npools:\n  - {name: admin, module: admin, id: 0}\n  - {name: x0, module: nosuchmod, id: 3}\n' \
  "$name" >"$tmp/mod.yaml"
expect 1 "$chi" start --config "$tmp/mod.yaml"
has "no module named 'nosuchmod'"
has "cannot start runtime '$name'"
grep -q "no module named 'nosuchmod'" "$log" || fail "the log does not have the cause"
printf 'runtime: {name: %s}\npools:\n  - {name: admin, module: admin, id: 0}\n  - {name: d0, module: bdev, id: 3, path: %s/no/such/dir/disk, size: 1M}\n' \
  "$name" "$tmp" >"$tmp/bdev.yaml"
expect 1 "$chi" start --config "$tmp/bdev.yaml"
has "bdev pool 'd0': $tmp/no/such/dir/disk: No such file or directory"
# --- config --check and config check find both, and start nothing
expect 1 "$chi" config --print --check --config "$tmp/mod.yaml"
has "no module named 'nosuchmod'"
has "^runtime:"
expect 1 "$chi" config check --config "$tmp/bdev.yaml"
has "the directory $tmp/no/such/dir does not exist"
printf 'memory: {main_segment_size: 2M, max_task_size: 1M}\n' >"$tmp/size.yaml"
expect 1 "$chi" config --check --config "$tmp/size.yaml"
has "does not fit"
expect 0 "$chi" config --check --name "$name"
has "chi config: OK (runtime '$name'"
expect 2 "$chi" config
has "\-\-print or --check"
# --- config --print says what 0 means
expect 0 "$chi" config --print
has "lanes: 0  # 0 = auto"
has "num_workers: auto"
rm -f "$log"

# --- --name on start, stop, status, stats, config, cleanup; 20 workers
CHI_RUNTIME_NUM_WORKERS=20 CHI_RUNTIME_NAME=not$$ expect 0 "$chi" start --name "$name"
has "runtime '$name' started"
[ -e "/tmp/chi.$uid.not$$.log" ] && { rm -f "/tmp/chi.$uid.not$$.log"; fail "start ignored --name"; }
expect 0 "$chi" status --name "$name"
has "^runtime   $name$"
# the log: timestamps on every line; no GPU: at most one info line, no error
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+][0-9]{4} chi: runtime .* serving' "$log" ||
  fail "no timestamp in the log: $(cat "$log")"
grep -vqE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$log" && fail "a log line without a timestamp: $(cat "$log")"
if grep -q 'no GPU queues' "$log"; then # no GPU or no driver here: one info line
  [ "$(grep -ci 'GPU\|cuda' "$log")" = 1 ] || fail "more than one GPU line: $(cat "$log")"
  grep -i 'GPU\|cuda' "$log" | grep -qv ' chi: info: ' && fail "the GPU line is not an info line: $(cat "$log")"
fi
grep -q ' chi: error: ' "$log" && fail "an error in the log of a good start: $(cat "$log")"
# stats: every worker, or a note; '-' where a lane has no samples
expect 0 "$chi" stats --name "$name"
n=$(awk '/^worker /{w=1; next} w && /^[0-9]+ /{n++} w && /^$/{w=0} END{print n+0}' "$tmp/out")
if [ "$n" -lt 20 ]; then
  has "workers $n-19 not shown"
fi
grep -E '^[0-9]+ +cpu ' "$tmp/out" | grep -q ' 0 ns' && fail "0 ns latency of a lane without samples: $(cat "$tmp/out")"
grep -E '^[0-9]+ +cpu .* 0 +- +- +-$' "$tmp/out" >/dev/null || fail "no '-' latency for a lane without samples: $(cat "$tmp/out")"
expect 0 "$chi" stats --name "$name" --json
has '"p50":null'
if [ "$n" -lt 20 ]; then has "\"workers_not_shown\":$((20 - n))"; fi
expect 0 "$chi" stats --name "$name" --prometheus
has "^chi_workers{runtime=\"$name\"} 20"
expect 0 "$chi" stop --name "$name"
expect 0 "$chi" cleanup --name "$name"
# demo --name
expect 0 "$chi" demo --name "${name}b" --threads 1 --tasks 64
has "embedded runtime '${name}b'"
grep -q "GPU queues" "$tmp/out" && fail "chi demo shows the no-GPU info line: $(cat "$tmp/out")"
echo "cli conventions: OK"
