# What `cmake --install` puts where (GNUInstallDirs; <libdir> is lib, or
# lib/<multiarch> under /usr on Debian):
#
#   include/raftlite.h                     the header           (development)
#   <libdir>/libraftlite.so.X.Y.Z, .so.S   the shared library   (runtime)
#   <libdir>/libraftlite.so, .a            link name, static    (development)
#   <libdir>/raftlite/raftlite.so          the loadable module  (runtime)
#   <libdir>/pkgconfig/raftlite.pc         pkg-config           (development)
#   <libdir>/cmake/raftlite/               find_package(raftlite) (development)
#   share/doc/raftlite/                    README, docs/, LICENSE, CHANGELOG (doc)
#
# The module sits in a directory of its own so that its file name stays
# raftlite.so, from which SQLite's load_extension() derives the entry point
# sqlite3_raftlite_init, without clashing with the library's libraftlite.so.
#
# The CMake package exports raftlite::raftlite (shared), raftlite::raftlite_static
# and raftlite::extension (the module, for $<TARGET_FILE:...>), and finds
# SQLite3 for its users. raftlite.pc is written at install time, so that
# `cmake --install build --prefix DIR` gets DIR in it, not the configured
# prefix; it names the module's directory as its variable moduledir.

include(CMakePackageConfigHelpers)

set(RAFTLITE_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/raftlite)
set(RAFTLITE_MODULEDIR ${CMAKE_INSTALL_LIBDIR}/raftlite)

install(TARGETS raftlite_shared raftlite_static
  EXPORT raftliteTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS raftlite_ext
  EXPORT raftliteTargets
  LIBRARY DESTINATION ${RAFTLITE_MODULEDIR} COMPONENT runtime)
install(FILES include/raftlite.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)

install(EXPORT raftliteTargets
  NAMESPACE raftlite::
  DESTINATION ${RAFTLITE_CMAKEDIR} COMPONENT development)

# The canonical/raft adapter, when it was built: its header, its static
# library, raftlite::raftlite_raft in the CMake package (raftliteConfig
# includes its targets when they are there) and raftlite-raft.pc.
if(TARGET raftlite_raft)
  install(TARGETS raftlite_raft
    EXPORT raftliteRaftTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES include/raftlite_raft.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
  install(EXPORT raftliteRaftTargets
    NAMESPACE raftlite::
    DESTINATION ${RAFTLITE_CMAKEDIR} COMPONENT development)
endif()
configure_package_config_file(cmake/raftliteConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/raftliteConfig.cmake
  INSTALL_DESTINATION ${RAFTLITE_CMAKEDIR})
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/raftliteConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY ${RAFTLITE_COMPATIBILITY})
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/raftliteConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/raftliteConfigVersion.cmake
  DESTINATION ${RAFTLITE_CMAKEDIR} COMPONENT development)

# raftlite.pc: the directories are made absolute from the prefix given at
# install time (CMAKE_INSTALL_PREFIX inside the install script).
set(RAFTLITE_PC_IN ${CMAKE_CURRENT_SOURCE_DIR}/raftlite.pc.in)
set(RAFTLITE_PC_OUT ${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/raftlite.pc)
set(RAFTLITE_RAFT_PC_IN ${CMAKE_CURRENT_SOURCE_DIR}/raftlite-raft.pc.in)
set(RAFTLITE_RAFT_PC_OUT ${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/raftlite-raft.pc)
set(RAFTLITE_RAFT_PC_CODE "")
if(TARGET raftlite_raft)
  set(RAFTLITE_RAFT_PC_CODE
      "configure_file(\"${RAFTLITE_RAFT_PC_IN}\" \"${RAFTLITE_RAFT_PC_OUT}\" @ONLY)")
endif()
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(PROJECT_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
  set(libdir \"${CMAKE_INSTALL_LIBDIR}\")
  set(includedir \"${CMAKE_INSTALL_INCLUDEDIR}\")
  foreach(dir libdir includedir)
    if(NOT IS_ABSOLUTE \"\${\${dir}}\")
      set(\${dir} \"\\\${prefix}/\${\${dir}}\")
    endif()
  endforeach()
  configure_file(\"${RAFTLITE_PC_IN}\" \"${RAFTLITE_PC_OUT}\" @ONLY)
  ${RAFTLITE_RAFT_PC_CODE}
" COMPONENT development)
install(FILES ${RAFTLITE_PC_OUT}
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)
if(TARGET raftlite_raft)
  install(FILES ${RAFTLITE_RAFT_PC_OUT}
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)
endif()

install(FILES README.md LICENSE CHANGELOG.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
install(DIRECTORY docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT doc
  FILES_MATCHING PATTERN "*.md" PATTERN "*.svg" PATTERN "*.png")
