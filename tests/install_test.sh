#!/usr/bin/env bash
# tests/install_test.sh BUILD_DIR SRC_DIR [NVCC [CUDA_ARCH]]: install chi into
# a temporary prefix, then build the user module (examples/user_module.c, a
# shared library) and its client (examples/counter_client.c) against the
# installed package twice (pkg-config, and CMake's find_package(chi) ->
# chi::chi), and run each with the installed daemon loading the module;
# libchi.so carries its soname. With NVCC (a build with CUDA): chi-gpu.pc,
# libchi_gpu.a and libchi_gpu.so (soname libchi_gpu.so.MAJOR, NEEDED
# libchi.so.MAJOR, exporting chi_gpu_cuda_enable and none of the CUDA
# runtime inside it) are installed, `pkg-config --libs chi-gpu` resolves, and
# examples/gpu_client.cu builds with `nvcc $(pkg-config --cflags --libs
# chi-gpu)` against libchi_gpu.so and runs (exit 77, no GPU, counts as a
# pass). Without NVCC those checks are skipped, and the output says so.
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
# the user module as a shared library and its client, with pkg-config ...
mkdir -p "$tmp/mods_pc" "$tmp/mods_cm"
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -I"$src/examples" "$src/examples/user_module.c" \
   -o "$tmp/mods_pc/libchi_counter.so" $(pkg-config --cflags chi)
# (the client with plain `pkg-config --libs chi`: libchi.so, found at run time
# through LD_LIBRARY_PATH as an installed library would be through ld.so)
cc -std=c11 -Wall -Wextra -Werror -I"$src/examples" "$src/examples/counter_client.c" -o "$tmp/client_pc" \
   $(pkg-config --cflags --libs chi)
export LD_LIBRARY_PATH="$tmp/prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$tmp/prefix/bin/chi" --version | grep -q "^chi $(pkg-config --modversion chi) " || { echo "chi --version disagrees with chi.pc"; exit 1; }
test -e "$tmp/prefix/lib/libchi.so.0" || { echo "not installed: lib/libchi.so.0"; exit 1; }
major=$(pkg-config --modversion chi | cut -d. -f1)
# soname FILE WANT: FILE's DT_SONAME is WANT
soname() {
  readelf -d "$1" | grep "(SONAME) *Library soname: \[$2\]" >/dev/null ||
    { echo "$1: soname is not $2: $(readelf -d "$1" | grep SONAME)"; exit 1; }
}
soname "$tmp/prefix/lib/libchi.so" "libchi.so.$major"
readelf -d "$tmp/client_pc" | grep "NEEDED.*\[libchi.so.$major\]" >/dev/null ||
  { echo "the pkg-config client does not link libchi.so.$major"; exit 1; }
# ... and with CMake's find_package(chi): the module takes chi's headers only
# (libchi is in the daemon that loads it), the client links chi::chi
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(ex C)
find_package(chi REQUIRED)
add_library(chi_counter MODULE $src/examples/user_module.c)
target_include_directories(chi_counter PRIVATE $src/examples \$<TARGET_PROPERTY:chi::chi,INTERFACE_INCLUDE_DIRECTORIES>)
add_executable(client $src/examples/counter_client.c)
target_include_directories(client PRIVATE $src/examples)
target_link_libraries(client PRIVATE chi::chi)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
cp "$tmp/cm/b/libchi_counter.so" "$tmp/mods_cm/"
# the installed daemon loads each build of the module; each client calls it
for way in pc cm; do
  name=inst$$$way
  printf 'runtime: {name: %s, num_workers: 2, module_path: "%s"}\npools:\n  - {name: admin, module: admin, id: 0}\n  - {name: counter0, module: counter, id: 10}\n' \
    "$name" "$tmp/mods_$way" > "$tmp/$way.yaml"
  "$tmp/prefix/bin/chi" start --config "$tmp/$way.yaml"
  client="$tmp/client_pc"; [ $way = cm ] && client="$tmp/cm/b/client"
  rc=0; "$client" "$name" 200 || rc=$?
  "$tmp/prefix/bin/chi" stop --name "$name" >/dev/null
  rm -f "/tmp/chi.$(id -u).$name.log"
  [ $rc = 0 ] || { echo "the $way build of the user module failed"; exit 1; }
done
if [ -n "$nvcc" ]; then
  for f in lib/libchi_gpu.a lib/libchi_gpu.so lib/libchi_gpu.so.$major lib/pkgconfig/chi-gpu.pc \
           include/chi/gpu/api.h; do
    test -e "$tmp/prefix/$f" || { echo "not installed: $f"; exit 1; }
  done
  gso=$tmp/prefix/lib/libchi_gpu.so
  soname "$gso" "libchi_gpu.so.$major"
  readelf -d "$gso" | grep "NEEDED.*\[libchi.so.$major\]" >/dev/null ||
    { echo "libchi_gpu.so does not need libchi.so.$major: $(readelf -d "$gso" | grep NEEDED)"; exit 1; }
  nm -D --defined-only "$gso" | grep -w chi_gpu_cuda_enable >/dev/null || { echo "libchi_gpu.so lacks chi_gpu_cuda_enable"; exit 1; }
  # its static CUDA runtime stays inside: a program's own cudart is not interposed
  leaked=$(nm -D --defined-only "$gso" | awk '$3 ~ /^(cuda|__cuda)/' | head -3)
  [ -z "$leaked" ] || { echo "libchi_gpu.so exports the CUDA runtime: $leaked"; exit 1; }
  libs=$(pkg-config --libs chi-gpu) || { echo "pkg-config --libs chi-gpu failed"; exit 1; }
  for want in -lchi_gpu -lcudart_static -lchi; do
    grep -qw -- "$want" <<<"$libs" || { echo "pkg-config --libs chi-gpu lacks $want: $libs"; exit 1; }
  done
  [[ "$arch" =~ ^[0-9]+$ ]] || arch=90
  "$nvcc" -arch=sm_$arch -Werror all-warnings "$src/examples/gpu_client.cu" \
     -o "$tmp/gpu_pc" $(pkg-config --cflags --libs chi-gpu)
  readelf -d "$tmp/gpu_pc" | grep "NEEDED.*\[libchi_gpu.so.$major\]" >/dev/null ||
    { echo "the chi-gpu.pc client does not link libchi_gpu.so.$major"; exit 1; }
  rc=0; "$tmp/gpu_pc" || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 77 ] || { echo "gpu client built from chi-gpu.pc: exit $rc"; exit 1; }
  echo "install test: libchi_gpu.so.$major and chi-gpu.pc client built (exit $rc)"
else
  echo "install test: a build without CUDA: libchi_gpu and chi-gpu.pc not checked"
fi
echo "install test: OK"
