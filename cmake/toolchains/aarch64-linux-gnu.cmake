# CMake toolchain file: cross-compiles Starling for 64-bit ARM Linux (NVIDIA Jetson, other
# aarch64 boards) with Debian's cross compiler (g++-aarch64-linux-gnu) against an arm64 Debian
# sysroot, and runs target binaries (doctest's test discovery, CTest) under qemu-user.
# scripts/cross-build-arm64.sh creates the sysroot and uses this file; by hand:
#
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#     -DSTARLING_SYSROOT=$HOME/.cache/starling-arm64-sysroot
#
# Why a sysroot rather than Debian multiarch (arm64 packages installed beside the amd64 ones):
# libtorch-dev, libcereal-dev, libgoogle-glog-dev and libgflags-dev are not Multi-Arch: same, and
# libtorch-dev pulls python3-dev, so their arm64 versions cannot be installed next to the amd64
# ones that the native build uses. The sysroot is a plain directory of unpacked arm64 packages.
#
# STARLING_SYSROOT (cache variable or environment variable): the arm64 root, with usr/include
# and usr/lib/aarch64-linux-gnu. STARLING_QEMU (default qemu-aarch64): the user-mode emulator.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT STARLING_SYSROOT AND DEFINED ENV{STARLING_SYSROOT})
  set(STARLING_SYSROOT "$ENV{STARLING_SYSROOT}")
endif()
if(NOT STARLING_SYSROOT OR NOT EXISTS "${STARLING_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR "aarch64 toolchain: set STARLING_SYSROOT to an arm64 Debian sysroot "
    "(scripts/cross-build-arm64.sh makes one); got '${STARLING_SYSROOT}'")
endif()
if(NOT STARLING_QEMU)
  set(STARLING_QEMU qemu-aarch64)
endif()
# try_compile projects read this file again: hand them the same values.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES STARLING_SYSROOT STARLING_QEMU)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_SYSROOT "${STARLING_SYSROOT}")

# Headers, libraries and CMake packages come only from the sysroot; programs (ccache,
# pkg-config, the emulator) from the build machine.
set(CMAKE_FIND_ROOT_PATH "${STARLING_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libsodium, libzmq, sqlite3) reads the target's .pc files, with their paths
# prefixed by the sysroot.
set(ENV{PKG_CONFIG_LIBDIR}
  "${STARLING_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${STARLING_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${STARLING_SYSROOT}")
set(ENV{PKG_CONFIG_PATH} "")

# Shared libraries that libtorch and the others need indirectly (OpenBLAS, protobuf, gomp...)
# are found through the sysroot's library directories at link time.
foreach(dir lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu)
  string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " -Wl,-rpath-link,${STARLING_SYSROOT}/${dir}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS_INIT " -Wl,-rpath-link,${STARLING_SYSROOT}/${dir}")
endforeach()

# Target programs run under qemu-user, its dynamic loader and libraries from the sysroot (-L).
# doctest_discover_tests and add_test pick this up, so CTest runs the suites under emulation.
set(CMAKE_CROSSCOMPILING_EMULATOR "${STARLING_QEMU};-L;${STARLING_SYSROOT}")
