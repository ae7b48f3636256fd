# doctest.tcl script -require: can this python load extensions?
import sqlite3
sqlite3.connect(":memory:").enable_load_extension(True)
