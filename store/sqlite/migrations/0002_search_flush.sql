-- _search_flush is what the writer updates once per group that wrote to a
-- searchable collection, just before COMMIT: each search index's trigger
-- on it indexes the rows its collection's triggers queued (see search.go).
CREATE TABLE _search_flush (n INTEGER NOT NULL);
INSERT INTO _search_flush (n) VALUES (0);
