#!/usr/bin/env bash
# tests/install_test.sh BUILD_DIR SRC_DIR [NVCC [CUDA_ARCH]]: install chi into
# a temporary prefix, then build examples/user_module.c against the installed
# package twice (pkg-config, and CMake's find_package(chi) -> chi::chi) and
# run it. With NVCC (a build with CUDA): chi-gpu.pc and libchi_gpu.a are
# installed, `pkg-config --libs chi-gpu` resolves, and examples/gpu_client.cu
# builds with `nvcc $(pkg-config --cflags --libs --static chi-gpu)` and runs
# (exit 77, no GPU, counts as a pass).
set -euo pipefail
build=$1 src=$2 nvcc=${3:-} arch=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in lib/libchi.a include/chi/chi.h include/chi/proto/ring.h include/chi/modules/test.h \
         include/chi/modules/bdev.h bin/chi bin/chi-bench lib/pkgconfig/chi.pc lib/cmake/chi/chiConfig.cmake; do
  test -e "$tmp/prefix/$f" || { echo "not installed: $f"; exit 1; }
done
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror "$src/examples/user_module.c" -o "$tmp/ex_pc" \
   $(pkg-config --cflags --libs --static chi) -lyaml
"$tmp/ex_pc"
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(ex C)
find_package(chi REQUIRED)
add_executable(ex $src/examples/user_module.c)
target_link_libraries(ex PRIVATE chi::chi)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
"$tmp/cm/b/ex"
if [ -n "$nvcc" ]; then
  for f in lib/libchi_gpu.a lib/pkgconfig/chi-gpu.pc include/chi/gpu/api.h; do
    test -e "$tmp/prefix/$f" || { echo "not installed: $f"; exit 1; }
  done
  libs=$(pkg-config --libs chi-gpu) || { echo "pkg-config --libs chi-gpu failed"; exit 1; }
  for want in -lchi_gpu -lcudart_static -lchi; do
    grep -qw -- "$want" <<<"$libs" || { echo "pkg-config --libs chi-gpu lacks $want: $libs"; exit 1; }
  done
  [[ "$arch" =~ ^[0-9]+$ ]] || arch=90
  "$nvcc" -arch=sm_$arch -Werror all-warnings "$src/examples/gpu_client.cu" \
     -o "$tmp/gpu_pc" $(pkg-config --cflags --libs --static chi-gpu)
  rc=0; "$tmp/gpu_pc" || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 77 ] || { echo "gpu client built from chi-gpu.pc: exit $rc"; exit 1; }
  echo "install test: chi-gpu.pc client built (exit $rc)"
fi
echo "install test: OK"
