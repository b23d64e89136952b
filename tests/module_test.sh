#!/usr/bin/env bash
# tests/module_test.sh CHI COUNTER_CLIENT MODULE_DIR: a user module as a
# shared library (examples/user_module.c -> MODULE_DIR/libchi_counter.so):
#  1. a `chi start` daemon whose config names a pool of it loads it from
#     runtime.module_path, and a client in another process gets every running
#     total right (examples/counter_client.c);
#  2. admin.create_pool loads nothing twice and makes a second pool of it at
#     run time, used the same way;
#  3. the same through CHI_RUNTIME_MODULE_PATH instead of the config key;
#  4. a module built for another module ABI (tests/module_badabi.c) makes the
#     start fail, and the log names both versions; an unknown module too.
set -euo pipefail
chi=$1 client=$2 mods=$3
tmp=$(mktemp -d)
name=mod$$
log=/tmp/chi.$(id -u).$name.log
cleanup() { "$chi" stop --name "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"; rm -f "$log"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$log" ] && tail -20 "$log"; exit 1; }
conf() { # conf MODULE_PATH EXTRA_POOL
  cat > "$tmp/c.yaml" <<YAML
runtime: {name: $name, num_workers: 2, module_path: "$1"}
pools:
  - {name: admin, module: admin, id: 0}
  - {name: test, module: test, id: 1}
$2
YAML
}
# 1 and 2
conf "/nonexistent:$mods" "  - {name: counter0, module: counter, id: 10}"
"$chi" start --config "$tmp/c.yaml" || fail "start with a user module"
"$client" "$name" 1000 || fail "calls from another process"
"$client" "$name" --create 11 500 || fail "a pool created at run time"
"$chi" status --name "$name" | grep -q "counter0(10, counter)" || fail "status lists the pool"
"$chi" stop --name "$name" || fail "stop"
# 3
conf "" "  - {name: counter0, module: counter, id: 10}"
CHI_RUNTIME_MODULE_PATH=$mods "$chi" start --config "$tmp/c.yaml" || fail "start with CHI_RUNTIME_MODULE_PATH"
"$client" "$name" 100 || fail "calls (module path from the environment)"
"$chi" stop --name "$name" || fail "stop"
# 4
rm -f "$log"
conf "$mods" "  - {name: bad0, module: badabi, id: 10}"
if "$chi" start --config "$tmp/c.yaml" 2>"$tmp/err"; then fail "a module of another ABI was loaded"; fi
grep -q "built for module ABI 999, this chi expects" "$log" || fail "the log does not name both ABI versions"
rm -f "$log"
conf "$mods" "  - {name: x0, module: nosuchmodule, id: 10}"
if "$chi" start --config "$tmp/c.yaml" 2>"$tmp/err"; then fail "an unknown module was accepted"; fi
grep -q "no module named 'nosuchmodule'" "$log" || fail "the log does not say the module is unknown"
echo "user modules: loaded by the daemon, called from another process, created at run time; another ABI and an unknown module refused"
