INSERT INTO kv VALUES ('a', 1), ('a2', x'00');
