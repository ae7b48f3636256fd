PRAGMA writable_schema = 1; UPDATE sqlite_schema SET sql = replace(sql, 'kv_v', 'KV_V') WHERE name = 'kv_v';
