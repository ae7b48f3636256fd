# doctest.tcl — keeps the examples of README.md and docs/*.md true.
#
#   tclsh doctest.tcl sql ?-update? SHELL EXT WORKDIR FILE.md ...
#   tclsh doctest.tcl c CC INCLUDE_DIRS WORKDIR ROOT FILE.md ...
#   tclsh doctest.tcl coverage SHELL EXT WORKDIR HEADER[,HEADER] C_API.md SQL.md
#   tclsh doctest.tcl program WORKDIR NAME=PATH ... -- FILE.md ...
#   tclsh doctest.tcl tour SHELL EXT WORKDIR TOUR.sql
#
# sql: every ```sql block preceded by a marker comment
#
#     <!-- example: fresh -->        a new, empty database
#     <!-- example: continue -->     the database the previous example left
#
# is run by the real sqlite3 shell, `SHELL -bail -cmd '.load EXT' test.db`,
# with the block on its standard input, in a directory of its own per chain
# (build/raftlite resolves there, so a block may `.load build/raftlite`
# itself). Each block is a new shell process on the chain's database file:
# dot-command settings (.mode) do not carry over, the database does. The
# expected output is the ```text block that follows (none: no output). The
# shell's standard output comes first, then its standard error: with -bail
# an error ends the block, so it is the block's last output. A ```sql block
# without a marker is an error: every SQL example is run.
# Each chain is also run as a reader would run it, pasted whole into one
# shell session without -bail: it must print the same (see check_session).
# -update rewrites each expected output with the real one (by hand only).
#
# c: every ```c block is compiled (-c, -Wall -Werror, with INCLUDE_DIRS, a
# comma-separated list, on the include path).
# A block preceded by
#
#     <!-- c: fragment(PARAMS) -->         statements: wrapped in a function
#                                          taking PARAMS, after the includes
#     <!-- c: excerpt PATH -->             must appear, line for line, in
#                                          ROOT/PATH (the guide's quotes of
#                                          examples/node_storage.c)
#
# is compiled or checked accordingly; other blocks must be whole translation
# units.
#
# program: a ```text block preceded by
#
#     <!-- example: program NAME ARG ... -->
#
# is the output of the built program NAME (given as NAME=PATH) run with
# ARGs in a fresh directory; the output must equal it, except for the
# version after "SQLite " (the program prints the library's, which differs
# between the SQLite versions the suite runs against).
#
# script: every ```LANG block (python, tcl, js: a host's page) is marked
#
#     <!-- example: script -->       a whole program, run by INTERP (with
#                                    its file as argument) in a directory
#                                    of its own where build/raftlite.so is
#                                    the module under test
#     <!-- example: continue -->     appended to the page's previous script
#                                    and run with it
#     <!-- example: excerpt -->      its lines (trimmed, blank ones aside)
#                                    appear in order in one script of the
#                                    page: a piece shown on its own
#
# A script's output (stdout, then stderr) must equal the ```text block
# that follows it (none: no output); a continued one's, the outputs of its
# chain so far. With `-require CHECK`, INTERP runs the file CHECK first:
# when it fails (the host or its SQLite binding is missing), the run says
# SKIP and exits 77.
#
# coverage: every function the header declares appears in C_API.md, and
# every raft* SQL function the extension registers, every raft_* module
# (eponymous table-valued functions) and every table, view and virtual
# table raft_install() creates appears in SQL.md (as `name` or `name(`).
#
# Failures name the Markdown file and line; the exit status is 1.

set ::nFail 0
set ::nCheck 0

proc fail {where msg} {
  puts "FAIL $where: $msg"
  incr ::nFail
}

proc read_file {path} {
  set fd [open $path r]
  fconfigure $fd -encoding utf-8 -translation lf
  set data [read $fd]
  close $fd
  return $data
}

proc write_file {path data} {
  set fd [open $path w]
  fconfigure $fd -encoding utf-8 -translation lf
  puts -nonewline $fd $data
  close $fd
}

# The fenced blocks of a Markdown file, in order: dicts with lang, body
# (lines joined by \n, with a final \n when not empty), the 1-based line of
# the opening fence (line), of its closing fence (end), the marker comment
# just before it, if any (marker), and whether only blank lines separate it
# from the previous block (adjacent).
proc md_blocks {path} {
  set lines [split [read_file $path] \n]
  set blocks {}
  set n [llength $lines]
  set prevEnd -10
  for {set i 0} {$i < $n} {incr i} {
    set l [lindex $lines $i]
    if {![regexp {^(\s*)(```+|~~~+)\s*([^\s`]*)} $l -> indent fence lang]} continue
    set marker ""
    for {set j [expr {$i - 1}]} {$j >= 0} {incr j -1} {
      set p [string trim [lindex $lines $j]]
      if {$p eq ""} continue
      regexp {^<!--\s*(.*?)\s*-->$} $p -> marker
      break
    }
    set adjacent 1
    for {set j [expr {$i - 1}]} {$j > $prevEnd} {incr j -1} {
      if {[string trim [lindex $lines $j]] ne ""} { set adjacent 0; break }
    }
    set body {}
    set start $i
    for {incr i} {$i < $n} {incr i} {
      set l [lindex $lines $i]
      if {[regexp "^\\s*[string index $fence 0]{[string length $fence],}\\s*$" $l]} break
      # Strip the fence's indentation (blocks inside list items).
      if {[string range $l 0 [expr {[string length $indent] - 1}]] eq $indent} {
        set l [string range $l [string length $indent] end]
      }
      lappend body $l
    }
    set text [join $body \n]
    if {$text ne "" || [llength $body] > 0} { append text \n }
    lappend blocks [dict create lang $lang body $text line [expr {$start + 1}] \
                      end [expr {$i + 1}] marker $marker adjacent $adjacent indent $indent]
    set prevEnd $i
  }
  return $blocks
}

# ---------------------------------------------------------------------------
# sql

# The shell's error line, compared without its wording around the message:
# the prefix ("Runtime error near line N:" in 3.40, "Error near line N:" in
# 3.53) and the trailing result code vary across SQLite versions; the
# message and the line do not. Output modes differ too: .mode box is
# compared by its cells (below); .mode line changed by 3.53, so examples
# avoid it; a long value in .mode box wraps at 60 characters in 3.40 and
# not in 3.53, so long messages are shown in list mode.
proc normalize_output {text} {
  set out {}
  foreach l [split $text \n] {
    if {[regexp {^(?:Runtime error|Parse error|Error:?) near line (\d+): (.*?)(?: \(\d+\))?$} $l -> ln msg]} {
      set l "error near line $ln: $msg"
    }
    # .mode box differs across shells: 3.53 draws rounded corners and a
    # double rule under the header, and right-aligns numbers. Compare the
    # cells, not the drawing.
    if {[regexp {^[\u250c\u256d\u251c\u255e\u2514\u2570]} $l]} {
      set l [string map [list \u256d \u250c \u256e \u2510 \u2570 \u2514 \u256f \u2518 \
                             \u255e \u251c \u256a \u253c \u2561 \u2524 \u2550 \u2500] $l]
    } elseif {[string match "\u2502*\u2502" [string trimright $l]]} {
      set cells {}
      foreach c [lrange [split [string trimright $l] \u2502] 1 end-1] { lappend cells [string trim $c] }
      set l "\u2502 [join $cells " \u2502 "] \u2502"
    }
    lappend out [string trimright $l]
  }
  return [string trimright [join $out \n] \n]
}

# Under a sanitizer build the module brings ASan into the shell: the
# shell's own allocations at exit are not raftlite's leaks.
if {[info exists ::env(ASAN_OPTIONS)]} { append ::env(ASAN_OPTIONS) :detect_leaks=0 }

proc run_block {shell ext dir sql} {
  write_file [file join $dir block.sql] $sql
  set out [file join $dir block.out]
  set err [file join $dir block.err]
  # With -bail the shell exits non-zero after an error: the output is what
  # is compared, not the status.
  set cwd [pwd]
  cd $dir
  catch {
    exec $shell -bail -cmd ".load $ext" test.db < [file join $dir block.sql] \
      > $out 2> $err
  }
  cd $cwd
  return "[read_file $out][read_file $err]"
}

proc new_chain_dir {workdir file line} {
  set dir [file join $workdir "[string map {/ _ .. _} $file]-$line"]
  file delete -force $dir
  file mkdir [file join $dir build]
  # `.load build/raftlite` in a block finds the extension under test.
  file link -symbolic [file join $dir build raftlite[info sharedlibextension]] $::ext
  return $dir
}

proc cmd_sql {args} {
  set update 0
  if {[lindex $args 0] eq "-update"} { set update 1; set args [lrange $args 1 end] }
  lassign $args shell ::ext workdir
  set ::ext [file normalize $::ext]
  set workdir [file normalize $workdir]
  file delete -force $workdir
  foreach file [lrange $args 3 end] {
    set blocks [md_blocks $file]
    set dir ""
    set edits {}
    for {set k 0} {$k < [llength $blocks]} {incr k} {
      set b [lindex $blocks $k]
      if {[dict get $b lang] ne "sql"} continue
      set where "$file:[dict get $b line]"
      set marker [dict get $b marker]
      if {![regexp {^example:\s*(fresh|continue)$} $marker -> mode]} {
        fail $where "a \`\`\`sql block needs <!-- example: fresh --> or <!-- example: continue --> before it"
        continue
      }
      if {$mode eq "fresh"} {
        if {$dir ne ""} { check_session $shell $dir $chain }
        set dir [new_chain_dir $workdir $file [dict get $b line]]
        set chain [list "$file:[dict get $b line]" {} {} 0]
      } elseif {$dir eq ""} {
        fail $where "'example: continue' with no example before it in this file"
        continue
      }
      set expected ""
      set next [lindex $blocks [expr {$k + 1}]]
      set hasOut [expr {$next ne "" && [dict get $next lang] eq "text" && [dict get $next adjacent]}]
      if {$hasOut} { set expected [dict get $next body] }
      set actual [run_block $shell $::ext $dir [dict get $b body]]
      lset chain 1 "[lindex $chain 1][dict get $b body]"
      if {[normalize_output $expected] ne ""} {
        lset chain 2 "[lindex $chain 2][normalize_output $expected]\n"
      }
      incr ::nCheck
      if {[normalize_output $actual] eq [normalize_output $expected]} continue
      if {$update} {
        lappend edits [list $b $next $hasOut $actual]
        puts "updated $where"
        continue
      }
      lset chain 3 1
      set at [expr {$hasOut ? "[dict get $next line]" : "[dict get $b end] (no \`\`\`text block)"}]
      write_file [file join $dir expected.txt] "[normalize_output $expected]\n"
      write_file [file join $dir actual.txt] "[normalize_output $actual]\n"
      catch {exec diff -u --label "$file:$at (the page)" --label "sqlite3 (the run)" \
               [file join $dir expected.txt] [file join $dir actual.txt]} diff
      regsub {\n?child process exited abnormally$} $diff {} diff
      fail $where "the example's output differs from the page:\n$diff"
    }
    if {$dir ne "" && !$update} { check_session $shell $dir $chain }
    if {$update && [llength $edits]} { apply_updates $file $edits }
  }
}

# A chain of examples must also run as a reader runs it: pasted in order
# into one shell session, without -bail (so an error that is not its
# block's last statement shows up here), printing what the page shows
# block after block. Error lines are compared without their line numbers,
# which count from the session's start here.
proc check_session {shell dir chain} {
  lassign $chain where sql expected failed
  # A block that failed already said what is wrong with this chain.
  if {$failed} return
  set sdir [file join $dir session]
  file mkdir [file join $sdir build]
  file link -symbolic [file join $sdir build raftlite[info sharedlibextension]] $::ext
  write_file [file join $sdir session.sql] $sql
  set cwd [pwd]
  cd $sdir
  # stdout line-buffered, so that errors (stderr) interleave in order.
  set buf [expr {[auto_execok stdbuf] ne "" ? {stdbuf -oL} : {}}]
  catch {exec {*}$buf $shell -cmd ".load $::ext" test.db < session.sql > session.out 2>@1}
  cd $cwd
  set strip {error near line [0-9]+:}
  regsub -all -line $strip [normalize_output [read_file [file join $sdir session.out]]] {error:} actual
  regsub -all -line $strip [normalize_output $expected] {error:} expected
  incr ::nCheck
  if {$actual eq $expected} return
  write_file [file join $sdir expected.txt] "$expected\n"
  write_file [file join $sdir actual.txt] "$actual\n"
  catch {exec diff -u --label "$where... (the pages' blocks, in order)" --label "one sqlite3 session" \
           [file join $sdir expected.txt] [file join $sdir actual.txt]} diff
  regsub {\n?child process exited abnormally$} $diff {} diff
  fail $where "the examples of this chain, run in order in one shell session, print something else:\n$diff"
}

# Rewrites the expected outputs of one file, last block first so that line
# numbers stay valid.
proc apply_updates {file edits} {
  set lines [split [read_file $file] \n]
  foreach e [lreverse $edits] {
    lassign $e b next hasOut actual
    set indent [dict get $b indent]
    set out [list "$indent```text"]
    foreach l [split [string trimright $actual \n] \n] {
      lappend out [expr {$l eq "" ? "" : "$indent$l"}]
    }
    lappend out "$indent```"
    if {[string trim $actual] eq ""} { set out {} }
    if {$hasOut} {
      set from [expr {[dict get $next line] - 1}]
      set to [expr {[dict get $next end] - 1}]
      if {$out eq {}} {
        # Drop the block and the blank line before it.
        set from [expr {[dict get $b end]}]
      }
      set lines [lreplace $lines $from $to {*}$out]
    } elseif {$out ne {}} {
      set lines [linsert $lines [dict get $b end] {*}$out]
    }
  }
  write_file $file [join $lines \n]
}

# ---------------------------------------------------------------------------
# c

proc cmd_c {cc incdirs workdir root args} {
  set incflags {}
  foreach d [split $incdirs ,] { if {$d ne ""} { lappend incflags -I$d } }
  set workdir [file normalize $workdir]
  file delete -force $workdir
  file mkdir $workdir
  foreach file $args {
    foreach b [md_blocks $file] {
      if {[dict get $b lang] ne "c"} continue
      set where "$file:[dict get $b line]"
      set marker [dict get $b marker]
      set body [dict get $b body]
      incr ::nCheck
      if {[regexp {^c:\s*excerpt\s+(\S+)$} $marker -> src]} {
        set text [read_file [file join $root $src]]
        if {[string first $body $text] < 0 && [string first $body "$text\n"] < 0} {
          fail $where "this excerpt is not (or no longer) in $src, line for line"
        }
        continue
      }
      set name "[string map {. _ / _} [file tail $file]]_[dict get $b line].c"
      set src "#line 1 \"$file:[dict get $b line]+\"\n$body"
      if {[regexp {^c:\s*fragment\s*\((.*)\)$} $marker -> params]} {
        if {[string trim $params] eq ""} { set params void }
        set src "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <sqlite3.h>\n#include <raftlite.h>\nvoid doc_fragment($params);\nvoid doc_fragment($params) {\n#line [expr {[dict get $b line] + 1}] \"$file\"\n$body}\n"
      } elseif {$marker ne "" && [string match c:* $marker]} {
        fail $where "unknown marker <!-- $marker -->"
        continue
      } else {
        set src "#line [expr {[dict get $b line] + 1}] \"$file\"\n$body"
      }
      write_file [file join $workdir $name] $src
      if {[catch {exec $cc -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter \
                    -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function \
                    {*}$incflags -c [file join $workdir $name] \
                    -o [file join $workdir [file rootname $name].o] 2>@1} msg]} {
        fail $where "the C snippet does not compile:\n$msg"
      }
    }
  }
}

# ---------------------------------------------------------------------------
# program

proc normalize_program {text} {
  regsub -all {SQLite [0-9]+\.[0-9]+\.[0-9]+} $text {SQLite x.y.z} text
  return [normalize_output $text]
}

proc cmd_program {workdir args} {
  set workdir [file normalize $workdir]
  set i [lsearch -exact $args --]
  foreach def [lrange $args 0 [expr {$i - 1}]] {
    regexp {^([^=]+)=(.*)$} $def -> name path
    set prog($name) [file normalize $path]
  }
  foreach file [lrange $args [expr {$i + 1}] end] {
    foreach b [md_blocks $file] {
      if {![regexp {^example:\s*program\s+(\S+)\s*(.*)$} [dict get $b marker] -> name argv]} continue
      set where "$file:[dict get $b line]"
      incr ::nCheck
      if {[dict get $b lang] ne "text"} {
        fail $where "'example: program' must precede a \`\`\`text block"
        continue
      }
      if {![info exists prog($name)]} {
        fail $where "no program $name given to doctest.tcl"
        continue
      }
      set dir [file join $workdir "[string map {/ _ .. _} $file]-[dict get $b line]"]
      file delete -force $dir
      file mkdir $dir
      set cwd [pwd]
      cd $dir
      catch {exec $prog($name) {*}$argv > out.txt 2>@1}
      cd $cwd
      set actual [normalize_program [read_file [file join $dir out.txt]]]
      set expected [normalize_program [dict get $b body]]
      if {$actual eq $expected} continue
      write_file [file join $dir expected.txt] "$expected\n"
      write_file [file join $dir actual.txt] "$actual\n"
      catch {exec diff -u --label "$file:[dict get $b line] (the page)" --label "$name (the run)" \
               [file join $dir expected.txt] [file join $dir actual.txt]} diff
      regsub {\n?child process exited abnormally$} $diff {} diff
      fail $where "the program's output differs from the page:\n$diff"
    }
  }
}

# ---------------------------------------------------------------------------
# script

proc script_diff {dir file at expected actual what} {
  write_file [file join $dir expected.txt] "$expected\n"
  write_file [file join $dir actual.txt] "$actual\n"
  catch {exec diff -u --label "$file:$at (the page)" --label "$what (the run)" \
           [file join $dir expected.txt] [file join $dir actual.txt]} diff
  regsub {\n?child process exited abnormally$} $diff {} diff
  return $diff
}

# Whether the trimmed, non-blank lines of excerpt appear in order (as a
# contiguous run) among those of script.
proc excerpt_in {excerpt script} {
  set want {}
  foreach l [split $excerpt \n] { if {[string trim $l] ne ""} { lappend want [string trim $l] } }
  set have {}
  foreach l [split $script \n] { if {[string trim $l] ne ""} { lappend have [string trim $l] } }
  set n [llength $want]
  if {$n == 0} { return 1 }
  for {set i 0} {$i + $n <= [llength $have]} {incr i} {
    if {[lrange $have $i [expr {$i + $n - 1}]] eq $want} { return 1 }
  }
  return 0
}

proc cmd_script {args} {
  set require ""
  while {[string match -* [lindex $args 0]]} {
    switch -- [lindex $args 0] {
      -require { set require [lindex $args 1]; set args [lrange $args 2 end] }
      default { puts stderr "unknown option [lindex $args 0]"; exit 2 }
    }
  }
  lassign $args lang interp ::ext workdir
  set ::ext [file normalize $::ext]
  set workdir [file normalize $workdir]
  file delete -force $workdir
  file mkdir $workdir
  if {$require ne "" && ![file exists $require]} {
    puts stderr "no such check script: $require"
    exit 2
  }
  if {$require ne "" && [catch {exec {*}$interp $require 2>@1} why]} {
    puts "SKIP: $interp cannot run the $lang examples: $why"
    exit 77
  }
  set ext [dict get {python .py tcl .tcl js .js} $lang]
  foreach file [lrange $args 4 end] {
    set blocks [md_blocks $file]
    set scripts {}
    set excerpts {}
    set code ""
    set expected ""
    for {set k 0} {$k < [llength $blocks]} {incr k} {
      set b [lindex $blocks $k]
      if {[dict get $b lang] ne $lang} continue
      set where "$file:[dict get $b line]"
      if {![regexp {^example:\s*(script|continue|excerpt)$} [dict get $b marker] -> mode]} {
        incr ::nCheck
        fail $where "a \`\`\`$lang block needs <!-- example: script -->, continue or excerpt before it"
        continue
      }
      if {$mode eq "excerpt"} {
        lappend excerpts [list $where [dict get $b body]]
        continue
      }
      if {$mode eq "continue" && $code eq ""} {
        fail $where "'example: continue' with no script before it in this file"
        continue
      }
      if {$mode eq "script"} {
        set code ""
        set expected ""
      }
      append code [dict get $b body]
      lappend scripts $code
      set next [lindex $blocks [expr {$k + 1}]]
      set hasOut [expr {$next ne "" && [dict get $next lang] eq "text" && [dict get $next adjacent]}]
      if {$hasOut} { append expected [dict get $next body] }
      set dir [file join $workdir "[string map {/ _ .. _} $file]-[dict get $b line]"]
      file mkdir [file join $dir build]
      file link -symbolic [file join $dir build raftlite[info sharedlibextension]] $::ext
      write_file [file join $dir example$ext] $code
      set cwd [pwd]
      cd $dir
      catch {exec {*}$interp example$ext > out.txt 2> err.txt}
      cd $cwd
      set actual [string trimright "[read_file [file join $dir out.txt]][read_file [file join $dir err.txt]]"]
      incr ::nCheck
      if {$actual eq [string trimright $expected]} continue
      set at [expr {$hasOut ? "[dict get $next line]" : "[dict get $b end] (no \`\`\`text block)"}]
      fail $where "the example's output differs from the page:\n[script_diff $dir $file $at [string trimright $expected] $actual $interp]"
    }
    foreach e $excerpts {
      lassign $e where body
      incr ::nCheck
      set found 0
      foreach c $scripts { if {[excerpt_in $body $c]} { set found 1; break } }
      if {!$found} { fail $where "this excerpt is not (or no longer) in a script of the page, line for line" }
    }
  }
}

# ---------------------------------------------------------------------------
# tour: the demo's script (examples/tour.sql, which `.load`s build/raftlite
# itself and refuses one call on purpose, so no -bail) runs to its end, where
# raft_check() says ok.

proc cmd_tour {shell ext workdir tour} {
  set ::ext [file normalize $ext]
  set tour [file normalize $tour]
  set dir [new_chain_dir [file normalize $workdir] tour 0]
  set cwd [pwd]
  cd $dir
  catch {exec $shell test.db < $tour > tour.out 2>@1}
  cd $cwd
  set out [read_file [file join $dir tour.out]]
  incr ::nCheck
  set lines [split [string trim $out] \n]
  if {![regexp {^.?\s*ok\s*.?$} [lindex $lines end-1]] &&
      ![regexp {^.?\s*ok\s*.?$} [lindex $lines end]]} {
    fail $tour "the tour did not end with raft_check() saying ok; its output:\n$out"
  }
}

# ---------------------------------------------------------------------------
# coverage

proc shell_query {shell ext workdir sql} {
  set dir [file normalize $workdir]
  file delete -force $dir
  file mkdir $dir
  write_file [file join $dir q.sql] $sql
  return [exec $shell -bail -cmd ".load $ext" [file join $dir test.db] < [file join $dir q.sql]]
}

# Documented: the name as a whole word inside an inline code span
# (`name`, `name(...)`, `int name(...)`), not in prose or a code block.
proc mentions {text name} {
  regsub -all {```.*?```} $text {} text
  foreach span [regexp -all -inline {`[^`]+`} $text] {
    if {[regexp "\\m$name\\M" $span]} { return 1 }
  }
  return 0
}

proc cmd_coverage {shell ext workdir headers capi sqlmd} {
  set ext [file normalize $ext]
  set capiText [read_file $capi]
  set sqlText [read_file $sqlmd]
  # HEADERS: raftlite.h, and the adapter's header (its functions carry no
  # RAFTLITE_API: a line that starts with a return type and the name).
  set n 0
  foreach header [split $headers ,] {
    set h [read_file $header]
    set fns [regexp -all -inline -line {^(?:RAFTLITE_API\s+)?[^;\{(#/*\s][^;\{(]*?\m(raft\w+)\s*\(} $h]
    foreach {- fn} $fns {
      incr n
      incr ::nCheck
      if {![mentions $capiText $fn]} {
        fail $capi "$fn (declared in $header) is not documented: no code span in it names it"
      }
    }
  }
  if {$n < 20} {
    fail $headers "found only $n functions: the pattern no longer matches the headers"
  }
  set q {
    SELECT DISTINCT name FROM pragma_function_list WHERE name LIKE 'raft%';
    -- Eponymous table-valued functions are modules named raft_*; the
    -- modules behind raft_install's tables are named raftlite_*.
    SELECT name FROM pragma_module_list WHERE name LIKE 'raft\_%' ESCAPE '\';
    PRAGMA journal_mode = WAL;
    SELECT raft_install();
    SELECT name FROM sqlite_schema
     WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%';
  }
  set objs [split [shell_query $shell $ext $workdir $q] \n]
  if {[llength $objs] < 10} { fail $sqlmd "the extension listed only: $objs" }
  foreach name $objs {
    if {$name eq "wal" || [string is integer -strict $name]} continue
    incr ::nCheck
    if {![mentions $sqlText $name]} {
      fail $sqlmd "$name (registered by the extension or created by raft_install) is not documented: no code span in it names it"
    }
  }
}

# ---------------------------------------------------------------------------

set cmd [lindex $argv 0]
switch -- $cmd {
  sql      { cmd_sql {*}[lrange $argv 1 end] }
  c        { cmd_c {*}[lrange $argv 1 end] }
  coverage { cmd_coverage {*}[lrange $argv 1 end] }
  program  { cmd_program {*}[lrange $argv 1 end] }
  tour     { cmd_tour {*}[lrange $argv 1 end] }
  script   { cmd_script {*}[lrange $argv 1 end] }
  default  { puts stderr "usage: tclsh doctest.tcl sql|c|coverage ..."; exit 2 }
}
puts "$::nFail failures out of $::nCheck checks"
exit [expr {$::nFail ? 1 : 0}]
