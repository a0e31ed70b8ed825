-- _changes is the change feed's outbox: each committed record change,
-- tagged with its transaction id, which the NOTIFY on tortoise_changes
-- names so other processes can read that transaction's changes. Rows are
-- pruned after an hour.
CREATE TABLE _changes (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	xid XID8 NOT NULL,
	created TIMESTAMPTZ NOT NULL DEFAULT now(),
	action TEXT NOT NULL,
	collection TEXT NOT NULL,
	record TEXT NOT NULL,
	old TEXT);

CREATE INDEX _changes_xid ON _changes (xid);
CREATE INDEX _changes_created ON _changes (created);
