# Cross-compiling numgrad for aarch64 Linux on an x86-64 Debian machine, and running what was
# built under qemu-user (scripts/cross-aarch64.sh installs all of it; CMakePresets.json's
# cross-aarch64 preset uses this file). The target's libraries come from Debian multiarch
# (libtbb-dev:arm64, libgtest-dev:arm64, libxsimd-dev:arm64 in /usr/lib/aarch64-linux-gnu),
# the compiler from g++-aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Packages and libraries are searched in the multiarch folders of /usr (CMake looks in
# lib/${CMAKE_LIBRARY_ARCHITECTURE}, never in the host's lib/x86_64-linux-gnu), programs on the
# host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# How ctest, gtest_discover_tests and the tests' scripts run an aarch64 program. `-L /`: the
# dynamic loader and libc must be the multiarch libc6:arm64 pair (/lib/ld-linux-aarch64.so.1
# and /lib/aarch64-linux-gnu/libc.so.6, the libc libtbb12:arm64 is installed with). The cross
# toolchain's /usr/aarch64-linux-gnu holds an older build of the same glibc (libc6-arm64-cross);
# `-L /usr/aarch64-linux-gnu` would pair its ld.so with the multiarch libc.so.6, whose private
# loader data differ, and the first pthread_create (oneTBB's first worker) then spins forever
# in the stack-cache walk: the "two-thread task_arena hang under qemu-user".
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
