// doctest.tcl script -require: is better-sqlite3 installed (tests/hosts/node/install)?
require('better-sqlite3');
