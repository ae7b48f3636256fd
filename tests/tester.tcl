# tester.tcl — a small test harness in the style of SQLite's own
# test/tester.tcl, for a plain tclsh with the sqlite3 Tcl package (SQLite's
# tester.tcl needs its testfixture binary).
#
#   source [file join [file dirname [info script]] tester.tcl]
#   set testprefix log
#   reset_db                                  ;# fresh test.db, extension loaded, store installed
#   do_execsql_test 1.1 { SELECT 1 } {1}
#   do_catchsql_test 1.2 { SELECT raft_truncate(NULL) } {1 {raft_truncate: OutOfRange: ...}}
#   do_eqp_test 1.3 { SELECT * FROM raft_log WHERE idx=1 } {SCAN raft_log VIRTUAL TABLE INDEX 0:=}
#   finish_test                               ;# exit status 1 if any case failed
#
# Expected results compare exactly, or as a pattern when written /regexp/ or
# *glob*. The extension's path comes from $env(RAFTLITE_EXT) (set by CTest).
# Each test file runs in its own directory (CTest's WORKING_DIRECTORY), so
# test.db names never collide under ctest -j.
#
# Tcl binding trap: the sqlite3 package binds $var by its internal type;
# `set x 5` binds TEXT. Use literals or [expr {...}] for integers.

# $env(RAFTLITE_SQLITE_VERSION), set when the build uses another SQLite
# (cmake -DRAFTLITE_SQLITE_DIR, scripts/test-sqlite-versions): exactly that
# version of the sqlite3 package, and its library must be that version too,
# so a run never passes against the system's SQLite by mistake.
if {[info exists ::env(RAFTLITE_SQLITE_VERSION)] && $::env(RAFTLITE_SQLITE_VERSION) ne ""} {
  package require -exact sqlite3 $::env(RAFTLITE_SQLITE_VERSION)
  sqlite3 ::version_db :memory:
  set ::sqlite_version [::version_db one { SELECT sqlite_version() }]
  ::version_db close
  if {$::sqlite_version ne $::env(RAFTLITE_SQLITE_VERSION)} {
    puts "tester.tcl: the sqlite3 package runs SQLite $::sqlite_version,\
          not $::env(RAFTLITE_SQLITE_VERSION) (RAFTLITE_SQLITE_VERSION)"
    exit 1
  }
} else {
  package require sqlite3
}

set ::testprefix ""
set ::nTest 0
set ::nErr 0
set ::failList {}
set ::raftlite_ext [expr {[info exists ::env(RAFTLITE_EXT)] ? $::env(RAFTLITE_EXT) : "build/raftlite"}]

proc fix_testname {name} {
  if {$::testprefix ne ""} { return "$::testprefix-$name" }
  return $name
}

proc result_matches {result expected} {
  if {[string match /*/ $expected] && [string length $expected] > 1} {
    return [regexp -- [string range $expected 1 end-1] $result]
  }
  if {[string match {\**\*} $expected] && [string length $expected] > 1} {
    return [string match $expected $result]
  }
  return [expr {$result eq $expected}]
}

# Errors SQLite raises itself ("unsafe use of f()", "no such table: t",
# "CHECK constraint failed: ...") change wording across SQLite versions, so
# tests never compare their text: they match only the names the message
# must mention (a function, a table, a constraint), in order.
#   [sqlite_error raft_purge()]    a pattern for an error message
#   [sqlite_catch raft_purge()]    the same for catchsql's {1 message}
proc regexp_quote {s} { regsub -all {[][{}()*+?.\\^$|]} $s {\\&} }
proc sqlite_error {args} {
  set re ""
  foreach name $args { append re ".*" [regexp_quote $name] }
  return "/^${re}.*\$/"
}
proc sqlite_catch {args} {
  return "/^1 [string range [sqlite_error {*}$args] 2 end]"
}

proc do_test {name script expected} {
  set name [fix_testname $name]
  incr ::nTest
  if {[catch {uplevel 1 $script} result opts]} {
    set result "ERROR: $result"
  }
  if {[result_matches $result $expected]} {
    puts "$name... Ok"
  } else {
    incr ::nErr
    lappend ::failList $name
    puts "$name... FAILED"
    puts "  Expected: \[$expected\]"
    puts "  Got:      \[$result\]"
  }
}

proc execsql {sql {db db}} { uplevel 1 [list $db eval $sql] }

# {0 result} or {1 message}
proc catchsql {sql {db db}} {
  set rc [catch {uplevel 1 [list $db eval $sql]} result]
  return [list $rc $result]
}

proc do_execsql_test {name sql expected} {
  uplevel 1 [list do_test $name [list execsql $sql] [list {*}$expected]]
}

proc do_catchsql_test {name sql expected} {
  uplevel 1 [list do_test $name [list catchsql $sql] $expected]
}

# The query plan as one line per node: the detail column of
# EXPLAIN QUERY PLAN, joined by newlines.
proc query_plan {sql {db db}} {
  set lines {}
  $db eval "EXPLAIN QUERY PLAN $sql" row { lappend lines $row(detail) }
  return [join $lines "\n"]
}

proc do_eqp_test {name sql expected} {
  uplevel 1 [list do_test $name [list query_plan $sql] [string trim $expected]]
}

# Loads the extension into a connection (default: db).
# Loads the extension into a connection and makes its main schema durable
# as raftlite requires: the rollback journal's default synchronous=FULL
# leaves the journal's unlink unsynced, so EXTRA.
proc load_raftlite {{db db}} {
  $db eval { PRAGMA main.synchronous = EXTRA }
  $db enable_load_extension 1
  $db eval { SELECT load_extension($::raftlite_ext) }
}

# A fresh test.db (every *.db of the working directory is deleted) with the
# extension loaded and a store installed in main.
# -noinstall: leave the database empty.
proc reset_db {args} {
  catch {db close}
  foreach f [glob -nocomplain *.db *.db-*] { file delete -force $f }
  sqlite3 db test.db
  load_raftlite db
  if {"-noinstall" ni $args} { db eval { SELECT raft_install() } }
}

# Everything a store holds, as one list: compare before and after a refused
# call to show that nothing changed. schema: main, aux, ...
proc store_dump {{schema main} {db db}} {
  set out {}
  # raftlite_segment last (list positions before it stay as schema.test
  # reads them); it holds the entries a purge hid, which the view does not
  # show. It exists from schema version 3 on.
  foreach tbl {raftlite_hard_state raftlite_log raftlite_state raftlite_snapshot raftlite_snapshot_chunk raftlite_meta raftlite_segment} {
    if {$tbl eq "raftlite_segment" && ![$db exists "SELECT 1 FROM \"$schema\".sqlite_schema WHERE name = 'raftlite_segment'"]} continue
    lappend out $tbl [$db eval "SELECT * FROM \"$schema\".$tbl ORDER BY 1"]
  }
  return $out
}

# Runs script, which must fail with expected (exact, or a pattern), and
# checks that the store is as it was before.
proc do_refused_test {name script expected {schema main}} {
  set before [store_dump $schema]
  uplevel 1 [list do_test $name.err [list catch_error $script] $expected]
  do_test $name.unchanged [list store_dump $schema] $before
}

proc catch_error {script} {
  if {[catch {uplevel 1 $script} msg]} { return $msg }
  return "no error"
}

proc finish_test {} {
  catch {db close}
  puts "$::nErr errors out of $::nTest tests"
  if {$::nErr > 0} {
    puts "Failures: $::failList"
    exit 1
  }
  exit 0
}
