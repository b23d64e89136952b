#!/usr/bin/env bash
# scripts/check_layers.sh: the layers call only down (docs/design.md, Layers).
# Every #include "..." of a file under include/ and src/ must name a header
# of a layer its own layer may use (the matrix below); <...> includes are
# not checked, nor tests/, fuzz/, bench/, tools/ and examples/ (white-box or
# top of the stack). Prints each violation and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

layer_of() {
	case "$1" in
	include/chi/proto/gpu.h | include/chi/proto/seal.h) echo proto_gpu ;;
	include/chi/proto/task.h | include/chi/proto/future.h | include/chi/proto/archive.h | \
		include/chi/proto/codec.h | include/chi/proto/batch.h) echo proto_task ;;
	include/chi/proto/*) echo proto ;;
	include/chi/*) echo api ;;
	# Exception: the consumer side of sealed GPU entries knows GPU seal
	# types and the task header, so it is of the GPU layer; it stays at this
	# path because the build lists and fuzz/fuzz_seal.c name it there.
	src/queue/seal.c | src/queue/seal.h) echo gpu ;;
	src/config/*) echo config ;;
	src/numa/*) echo numa ;;
	src/shm/*) echo shm ;;
	src/queue/*) echo queue ;;
	src/task/*) echo task ;;
	src/ipc/*) echo ipc ;;
	src/net/*) echo net ;;
	src/gpu/*) echo gpu ;;
	src/runtime/*) echo runtime ;;
	src/modules/*) echo modules ;;
	*) echo unknown ;;
	esac
}

# What each layer may include, lowest first: a row names every layer below
# it that it uses (its own included). proto: ring, lane, segment, atomic;
# proto_task: task, future, codec layouts; proto_gpu: GPU segment, seals;
# api: the public headers (chi.h, config.h, module.h, modules/*, gpu/*);
# net: several nodes (src/net/, UCX), under the runtime, never above it.
declare -A allowed=(
	[proto]="proto"
	[proto_task]="proto proto_task"
	[proto_gpu]="proto proto_task proto_gpu"
	[api]="proto proto_task proto_gpu api"
	[config]="proto proto_task proto_gpu api config"
	[numa]="proto api numa"
	[shm]="proto api numa shm"
	[queue]="proto queue"
	[task]="proto proto_task api task"
	[ipc]="proto proto_task proto_gpu api numa shm queue task ipc"
	[gpu]="proto proto_task proto_gpu api numa shm queue task ipc gpu"
	[net]="proto proto_task proto_gpu api shm queue task ipc net"
	[runtime]="proto proto_task proto_gpu api config numa shm queue task ipc gpu net runtime"
	[modules]="proto proto_task proto_gpu api task ipc modules"
)

bad=0
while IFS= read -r f; do
	from=$(layer_of "$f")
	[ "$from" = unknown ] && { echo "$f: no layer (add it to scripts/check_layers.sh)"; bad=1; continue; }
	while IFS= read -r inc; do
		case "$inc" in
		chi/*) path="include/$inc" ;;
		*/*) path="src/$inc" ;;
		*) path="$(dirname "$f")/$inc" ;; # beside the including file
		esac
		to=$(layer_of "$path")
		if [ "$to" = unknown ] || [[ " ${allowed[$from]} " != *" $to "* ]]; then
			echo "$f: includes \"$inc\" ($to) from layer $from"
			bad=1
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find include src -type f \( -name '*.h' -o -name '*.c' -o -name '*.cu' -o -name '*.cuh' \) | sort)

if [ "$bad" = 0 ]; then
	echo "layers: every include goes down"
fi
exit "$bad"
