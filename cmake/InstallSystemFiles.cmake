# Installs the systemd unit and the default configuration. Run at install time by
# `cmake --install` and by CPack (install(SCRIPT) in cmake/Packaging.cmake), which set
# CMAKE_INSTALL_PREFIX (CPack: /usr) and DESTDIR; cmake/Packaging.cmake sets the STARLING_*
# variables just before.

# ---- the unit: ExecStart names the starlingd of this prefix --------------------------------
if(IS_ABSOLUTE "${STARLING_INSTALL_BINDIR}")
  set(bindir "${STARLING_INSTALL_BINDIR}")
else()
  set(bindir "${CMAKE_INSTALL_PREFIX}/${STARLING_INSTALL_BINDIR}")
endif()
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unit_dir "/lib/systemd/system")  # Debian 12: pkg-config --variable=systemdsystemunitdir systemd
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
file(READ "${STARLING_SOURCE_DIR}/packaging/starlingd.service" unit)
string(REPLACE "ExecStart=/usr/bin/starlingd " "ExecStart=${bindir}/starlingd " unit "${unit}")
# One staging file per prefix, so that concurrent installs to different prefixes do not mix.
string(MD5 prefix_hash "${CMAKE_INSTALL_PREFIX}")
set(staged "${STARLING_BINARY_DIR}/packaging/${prefix_hash}/starlingd.service")
file(WRITE "${staged}" "${unit}")

list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${unit_dir}/starlingd.service")
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${staged}")

# ---- /etc/starling/agent.toml: never replace an operator's file ----------------------------
set(config_src "${STARLING_SOURCE_DIR}/packaging/agent.toml")
set(config_dir "/etc/starling")
set(existing "$ENV{DESTDIR}${config_dir}/agent.toml")
set(config_name agent.toml)
if(EXISTS "${existing}")
  file(SHA256 "${existing}" existing_hash)
  file(SHA256 "${config_src}" new_hash)
  if(NOT existing_hash STREQUAL new_hash)
    set(config_name agent.toml.dist)
    message(STATUS "Keeping the existing ${existing}; the default configuration goes to "
                   "${config_dir}/agent.toml.dist")
  endif()
endif()
list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${config_dir}/${config_name}")
file(INSTALL DESTINATION "${config_dir}" TYPE FILE RENAME "${config_name}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${config_src}")
