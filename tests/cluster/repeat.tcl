# repeat.tcl — runs cluster.test N times in a row, stopping at the first
# failure; prints the count and the time (ctest -L cluster_repeat).
#
#   tclsh repeat.tcl N KV_NODE        (RAFTLITE_EXT: the loadable module)
set n [lindex $argv 0]
set kv_node [lindex $argv 1]
set script [file join [file dirname [info script]] cluster.test]
set t0 [clock milliseconds]
for {set i 1} {$i <= $n} {incr i} {
  file delete -force run
  file mkdir run
  cd run
  set rc [catch {exec [info nameofexecutable] $script $kv_node 2>@1} out]
  cd ..
  if {$rc} {
    puts $out
    puts "cluster.test failed at run $i of $n"
    exit 1
  }
}
puts [format "cluster.test passed %d runs in a row in %.1f s" $n \
        [expr {([clock milliseconds] - $t0) / 1000.0}]]
