# cmake -P script: what the two shared objects export.
#
#   cmake -DNM=<nm> -DHEADER=include/raftlite.h -DLIBRARY=<libraftlite.so>
#         -DMODULE=<raftlite.so> -P symbols.cmake
#
# libraftlite.so must export exactly the functions raftlite.h declares with
# RAFTLITE_API — no sqlite3_raftlite_init, no internal rl* name — and the
# module exactly sqlite3_raftlite_init, the entry point SQLite derives from
# its file name. Any difference is listed and fails the test.
foreach(var NM HEADER LIBRARY MODULE)
  if(NOT ${var})
    message(FATAL_ERROR "symbols.cmake: -D${var}=... is required")
  endif()
endforeach()

# The public API: every RAFTLITE_API declaration, comments and preprocessor
# lines (the macro's own definition) left out.
file(READ "${HEADER}" text)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
string(REGEX REPLACE "\n#[^\n]*" "\n" text "${text}")
string(REGEX MATCHALL "RAFTLITE_API[^;(]*\\(" decls "${text}")
set(api "")
foreach(decl IN LISTS decls)
  string(REGEX MATCH "([A-Za-z_][A-Za-z_0-9]*)[ \t\n]*\\($" name "${decl}")
  list(APPEND api "${CMAKE_MATCH_1}")
endforeach()
list(SORT api)
list(LENGTH api n)
if(n LESS 30)
  message(FATAL_ERROR "symbols.cmake: only ${n} RAFTLITE_API functions found in ${HEADER}: "
                      "the header's declarations no longer match this parser")
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
