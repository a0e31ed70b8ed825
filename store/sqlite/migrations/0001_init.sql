-- The store's own tables as Tortoise created them before it had
-- migrations: IF NOT EXISTS, so that on a database of that time this
-- migration changes nothing and is only recorded.

-- _collections holds the collection definitions (core.Collection.StoredJSON).
CREATE TABLE IF NOT EXISTS _collections (
	id TEXT PRIMARY KEY NOT NULL,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE,
	data TEXT NOT NULL,
	created TEXT NOT NULL DEFAULT '',
	updated TEXT NOT NULL DEFAULT '');

-- _meta holds the commit generation the in-memory row counts are tied to
-- (see counts.go).
CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);

-- _params holds system values such as the settings.
CREATE TABLE IF NOT EXISTS _params (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);

INSERT OR IGNORE INTO _meta (key, value) VALUES ('gen', 0);
