PRAGMA encoding; PRAGMA journal_mode = WAL;
