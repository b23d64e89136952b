#!/usr/bin/env bash
# tests/install_test.sh BUILD_DIR SRC_DIR: install chi into a temporary
# prefix, then build examples/user_module.c against the installed package
# twice (pkg-config, and CMake's find_package(chi) -> chi::chi) and run it.
set -euo pipefail
build=$1 src=$2
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
echo "install test: OK"
