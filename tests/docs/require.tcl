# doctest.tcl script -require: has this tclsh the sqlite3 package?
package require sqlite3
