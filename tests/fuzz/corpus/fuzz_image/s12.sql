PRAGMA auto_vacuum = 1; VACUUM;
