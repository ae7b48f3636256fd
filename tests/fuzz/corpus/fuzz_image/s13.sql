PRAGMA writable_schema = 1; DELETE FROM sqlite_schema WHERE name = 'kv_v';
