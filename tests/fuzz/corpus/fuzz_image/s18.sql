CREATE INDEX kv_k2 ON kv(k, v);
