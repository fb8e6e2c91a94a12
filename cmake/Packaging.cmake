# Installation rules and the Debian package (included from the root CMakeLists.txt).
#
#   cmake --install BUILD [--prefix /usr/local]   the binaries, the systemd unit, the default
#                                                 /etc/starling/agent.toml and the docs
#   scripts/package.sh                            the .deb, with CPack's DEB generator
#
# What goes where, PREFIX being the install prefix at install time (CPack's is /usr):
#   PREFIX/bin/{starlingd,starling,starling-sim}
#   PREFIX/share/doc/starling/                    README.md and the docs
#   /lib/systemd/system/starlingd.service         for PREFIX /usr (Debian 12's unit directory),
#   PREFIX/lib/systemd/system/starlingd.service   otherwise (systemd reads /usr/local/lib/... too);
#                                                 its ExecStart names PREFIX/bin/starlingd
#   /etc/starling/agent.toml                      whatever PREFIX: the path the unit, the docs and
#                                                 `starlingd --help` name. `cmake --install` never
#                                                 replaces an existing one (it writes
#                                                 agent.toml.dist beside it); in the .deb it is a
#                                                 conffile, which dpkg keeps over upgrades.
# The unit and the config are placed by cmake/InstallSystemFiles.cmake at install time, so that
# a build tree configured for any prefix (the test build's /usr/local) packages the same .deb.
include(GNUInstallDirs)

install(TARGETS starlingd starling starling-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md docs/OPERATIONS.md docs/ARCHITECTURE.md docs/PROTOCOL.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(CODE "
  set(STARLING_SOURCE_DIR [[${PROJECT_SOURCE_DIR}]])
  set(STARLING_BINARY_DIR [[${PROJECT_BINARY_DIR}]])
  set(STARLING_INSTALL_BINDIR [[${CMAKE_INSTALL_BINDIR}]])
")
install(SCRIPT cmake/InstallSystemFiles.cmake)

# ---- the .deb -----------------------------------------------------------------------------
set(STARLING_DEB_MAINTAINER
    "Seed f250b9f6 maintainers <maintainers@users.noreply.b-seed-f250b9f6.example>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME starling)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${STARLING_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "peer-to-peer swarm agent with federated learning for edge fleets")
# The extended description, one line of the control file per line here (CPack indents them).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "Starling runs on each device of a fleet (industrial gateways, robots, Jetson\n"
  "boards). Its agent, starlingd, gossips membership with its neighbours (SWIM\n"
  "with Lifeguard), trains a local model on the device's own data and combines\n"
  "signed weight updates with its peers by robust federated averaging. Every\n"
  "record that crosses the swarm is signed by a device enrolled with the fleet's\n"
  "key.\n"
  "\n"
  "This package holds starlingd and its systemd unit (not enabled: enrol the\n"
  "device first), the operator's CLI starling, the simulator starling-sim and the\n"
  "default configuration /etc/starling/agent.toml.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)          # starling_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
find_program(STARLING_DPKG dpkg)
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  # A cross build (cmake/toolchains/aarch64-linux-gnu.cmake): the package is for the target,
  # and dpkg-shlibdeps cannot read the sysroot (it has no dpkg database), so Depends is the
  # list of Debian 12 runtime packages the binaries link, written out.
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libc6 (>= 2.34), libfmt9, libgcc-s1, libsodium23, \
libspdlog1.10, libsqlite3-0, libstdc++6 (>= 12), libtomlplusplus3, libtorch1.13, libzmq5, zlib1g")
else()
  if(STARLING_DPKG)
    execute_process(COMMAND ${STARLING_DPKG} --print-architecture
                    OUTPUT_VARIABLE starling_deb_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${starling_deb_arch})
  endif()
  # Depends: dpkg-shlibdeps derives the shared-library packages from the binaries (libsodium23,
  # libzmq5, libsqlite3-0, libtorch1.13, libspdlog1.10, libfmt9, libtomlplusplus3, zlib1g,
  # libc6, ...), with the versions this build needs; adduser is for the postinst.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
endif()
# libtorch trains 2-14x faster on OpenBLAS than on the reference BLAS (scripts/install-deps.sh);
# Fashion-MNIST is only for demos (data = "fashion-mnist").
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "dataset-fashion-mnist")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/debian/postinst"
    "${PROJECT_SOURCE_DIR}/packaging/debian/prerm"
    "${PROJECT_SOURCE_DIR}/packaging/debian/postrm"
    "${PROJECT_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
