#!/usr/bin/env bash
# Build and install llama-cpp-python so that it runs the fastest CPU code the processor supports, on any x86-64.
#
# llama-cpp-python is built with ggml's dynamic backends (GGML_BACKEND_DL): its CPU code is not linked into libggml
# but loaded at run time. Next to the wheel's own portable CPU backend (libggml-cpu.so: AVX2/FMA/F16C, the fallback),
# the same vendored llama.cpp source builds the CPU variants in LLAMA_CPU_VARIANTS (libggml-cpu-<variant>.so), which
# are added to the wheel's llama_cpp/lib. At run time ggml scores every variant against the processor (a variant that
# needs an instruction the processor lacks scores 0) and loads the best; `dallm llm list` names the one that runs.
# The variants are built for fixed instruction sets, not -march=native, so the wheel is valid on every x86-64 machine
# and is cached in $DALLM_BUILD_CACHE (default ~/.cache/dallm), keyed by version, CMake arguments and variant list.
#
# usage: BIN=.venv/bin bash scripts/build_llama.sh
set -euo pipefail
BIN="${BIN:-.venv/bin}"
VERSION=$(sed -n 's/.*llama-cpp-python\[server\]==\([0-9.]*\).*/\1/p' settings.ini)  # the pin in settings.ini
# x64: any x86-64 (so a processor without AVX2 never gets an instruction it lacks); haswell: AVX2 (AMD Zen 1-3, Intel
# Haswell..Comet Lake); skylakex: AVX-512F; icelake: + VBMI, VNNI; zen4: + BF16 (AMD Zen 4/5); sapphirerapids: + AMX.
# `all` builds every x86 variant ggml knows (14, about 10 min more on 2 cores).
VARIANTS="${LLAMA_CPU_VARIANTS:-x64 haswell skylakex icelake zen4 sapphirerapids}"
[ "$VARIANTS" = all ] && VARIANTS="x64 sse42 sandybridge ivybridge piledriver haswell skylakex cannonlake cascadelake \
icelake cooperlake zen4 alderlake sapphirerapids"
ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON"
# the wheel without llava/mtmd (image and audio input: dallm sends text only): 319 s -> 241 s of the wheel here
WHEEL_ARGS="$ARGS -DLLAVA_BUILD=OFF"
CACHE="${DALLM_BUILD_CACHE:-$HOME/.cache/dallm}"
key=$(printf '%s|%s|%s|%s' "$VERSION" "$WHEEL_ARGS" "$VARIANTS" "$(uname -m)" | md5sum | cut -c1-10)
dest="$CACHE/llama-cpp-python/$VERSION-$key"
stamp="$BIN/../.llama-cpp-$VERSION-$key"

if [ -f "$stamp" ] && "$BIN/python" -c "import llama_cpp" 2>/dev/null; then exit 0; fi
if ! ls "$dest"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  t0=$(date +%s)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "llama-cpp-python $VERSION: building (dynamic CPU backends; variants: $VARIANTS) into $dest"
  "$BIN/python" -m pip install -q wheel
  "$BIN/python" -m pip download -q --no-deps --no-binary :all: -d "$work" "llama-cpp-python==$VERSION"
  tar -xzf "$work"/llama_cpp_python-"$VERSION".tar.gz -C "$work"
  src="$work/llama_cpp_python-$VERSION"
  # 1. the wheel, with its portable CPU backend; --no-cache-dir: pip's cache does not key a wheel by CMAKE_ARGS
  CMAKE_ARGS="$WHEEL_ARGS" "$BIN/python" -m pip wheel -q --no-deps --no-cache-dir -w "$work/wheel" "$src"
  t1=$(date +%s)
  # 2. the CPU variants from the same source (only ggml-base and the variant modules are compiled)
  if [ "$(uname -m)" = x86_64 ] && [ "$VARIANTS" != none ]; then
    cmake -S "$src/vendor/llama.cpp" -B "$work/variants" -DCMAKE_BUILD_TYPE=Release $ARGS -DGGML_CPU_ALL_VARIANTS=ON \
      -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
      -DCMAKE_INSTALL_RPATH='$ORIGIN' >"$work/cmake.log" 2>&1
    cmake --build "$work/variants" -j "$(nproc)" --target $(printf 'ggml-cpu-%s ' $VARIANTS) >"$work/build.log" 2>&1 \
      || { tail -50 "$work/build.log"; exit 1; }
    # 3. into the wheel's llama_cpp/lib, beside libggml-base.so (wheel pack rewrites the RECORD)
    "$BIN/python" -m wheel unpack -d "$work/unpacked" "$work"/wheel/llama_cpp_python-*.whl >/dev/null
    cp "$work"/variants/bin/libggml-cpu-*.so "$work"/unpacked/llama_cpp_python-"$VERSION"/llama_cpp/lib/
    mkdir -p "$work/repacked"
    "$BIN/python" -m wheel pack -d "$work/repacked" "$work/unpacked/llama_cpp_python-$VERSION" >/dev/null
    rm "$work"/wheel/*.whl
    mv "$work"/repacked/*.whl "$work/wheel/"
  fi
  # into the cache under a temporary name first, so an interrupted copy never leaves a wheel that looks complete
  mkdir -p "$CACHE/llama-cpp-python"
  rm -rf "$dest.partial"
  cp -r "$work/wheel" "$dest.partial"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  t2=$(date +%s)
  echo "llama-cpp-python $VERSION built in $(( t2 - t0 )) s (the wheel $(( t1 - t0 )) s, the variants $(( t2 - t1 )) s)"
fi
"$BIN/python" -m pip install -q --no-deps --force-reinstall "$dest"/llama_cpp_python-*.whl
rm -f "$BIN"/../.llama-cpp-*
touch "$stamp"
