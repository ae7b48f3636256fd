# cmake -P script: what the two shared objects export.
#
#   cmake -DNM=<nm> -DHEADER=include/raftlite.h -DLIBRARY=<libraftlite.so>
#         -DMODULE=<raftlite.so> -P symbols.cmake
#
# libraftlite.so must export exactly the functions raftlite.h declares, each
# marked RAFTLITE_API — no sqlite3_raftlite_init, no internal rl* name — and the
# module exactly sqlite3_raftlite_init, the entry point SQLite derives from
# its file name. Any difference is listed and fails the test.
foreach(var NM HEADER LIBRARY MODULE)
  if(NOT ${var})
    message(FATAL_ERROR "symbols.cmake: -D${var}=... is required")
  endif()
endforeach()

# The public API: every function raftlite.h declares. Comments,
# preprocessor lines (RAFTLITE_API's own definition) and brace bodies
# (structs, enums: their function-pointer members) are dropped; what is
# left splits at ';' into declarations, and one with a name followed by '('
# that is not a typedef declares a function. Each must carry RAFTLITE_API,
# or it would be hidden: a declared function the library does not export.
file(READ "${HEADER}" text)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
string(REGEX REPLACE "\\\\\n" " " text "${text}")  # continued lines joined
string(REGEX REPLACE "\n#[^\n]*" "\n" text "${text}")
string(REPLACE "extern \"C\" {" "" text "${text}")
set(previous "")
while(NOT previous STREQUAL text)
  set(previous "${text}")
  string(REGEX REPLACE "{[^{}]*}" "" text "${text}")
endwhile()
string(REPLACE ";" "|" text "${text}")
string(REGEX MATCHALL "[^|]+" decls "${text}")
set(api "")
set(unmarked "")
foreach(decl IN LISTS decls)
  string(STRIP "${decl}" decl)
  if(decl MATCHES "^typedef[ \t\n]" OR NOT decl MATCHES "([A-Za-z_][A-Za-z_0-9]*)\\(")
    continue()
  endif()
  set(name "${CMAKE_MATCH_1}")
  list(APPEND api "${name}")
  if(NOT decl MATCHES "(^|[ \t\n])RAFTLITE_API[ \t\n]")
    list(APPEND unmarked "${name}")
  endif()
endforeach()
list(SORT api)
list(LENGTH api n)
if(n LESS 30)
  message(FATAL_ERROR "symbols.cmake: only ${n} functions found in ${HEADER}: "
                      "the header no longer matches this parser")
endif()
if(unmarked)
  string(REPLACE ";" " " unmarked "${unmarked}")
  message(SEND_ERROR "raftlite.h declares without RAFTLITE_API (so they are not exported): ${unmarked}")
endif()

# The dynamic symbols a shared object defines.
function(exported file out)
  execute_process(COMMAND "${NM}" -D --defined-only "${file}"
                  OUTPUT_VARIABLE lines RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "symbols.cmake: ${NM} -D --defined-only ${file} failed")
  endif()
  string(REGEX MATCHALL "[^\n]+" lines "${lines}")
  set(names "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "[^ \t]+$" name "${line}")
    list(APPEND names "${name}")
  endforeach()
  list(SORT names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

function(compare what got want)
  set(missing ${want})
  set(extra ${got})
  if(got)
    list(REMOVE_ITEM missing ${got})
  endif()
  if(want)
    list(REMOVE_ITEM extra ${want})
  endif()
  list(LENGTH got n)
  if(missing OR extra)
    string(REPLACE ";" " " missing "${missing}")
    string(REPLACE ";" " " extra "${extra}")
    message(SEND_ERROR "${what}: exports ${n} symbols; not exported but expected: [${missing}]; "
                       "exported but not expected: [${extra}]")
  else()
    message(STATUS "${what}: exports exactly the ${n} expected symbols")
  endif()
endfunction()

exported("${LIBRARY}" lib)
compare("libraftlite.so (the functions of raftlite.h)" "${lib}" "${api}")
list(FIND lib sqlite3_raftlite_init found)
if(NOT found EQUAL -1)
  message(SEND_ERROR "libraftlite.so exports sqlite3_raftlite_init: SQLite would load it as an extension")
endif()

exported("${MODULE}" mod)
compare("raftlite.so (the loadable module)" "${mod}" "sqlite3_raftlite_init")
