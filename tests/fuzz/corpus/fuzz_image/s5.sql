PRAGMA writable_schema = 1; UPDATE sqlite_schema SET sql = 'CREATE TABLE kv(k TEXT PRIMARY KEY, v, w)' WHERE name = 'kv';
