-- A transaction's count changes after its first one are summed in the
-- transaction and written once, at commit.
--
-- Before, every INSERT or DELETE statement updated its shard row. A
-- transaction of many statements (an import, a large batch) updated the
-- same row once per statement, and each update of a row that the same
-- transaction updated before must walk that row's chain of versions, none
-- of which can be pruned until the transaction ends: the k-th statement
-- paid for k versions, and 4,000 single-row inserts in one transaction
-- took 24 times as long as without counting.
--
-- Now the first counting statement of a transaction, per collection,
-- updates a shard as before (so a transaction of one statement, the common
-- case, costs what it did). Later ones add their change to a
-- transaction-local setting (set_config(..., true)), which a savepoint's
-- rollback takes back with the rows; the first of them also queues, through
-- a deferred constraint trigger whose WHEN sets a flag, one event that
-- adds the sum to a shard at commit (or at SET CONSTRAINTS ... IMMEDIATE).
-- Reads inside the transaction add the pending sum (counts.go).
--
-- The settings of collection coll are named after md5(coll), which only
-- has characters a setting's name may hold:
--   <k>_s  the transaction has counted coll once (its shard is updated)
--   <k>_d  the sum of the changes since, not yet written
--   <k>_q  the commit-time event is queued
-- with k = 'tortoise.count_' || md5(coll).

CREATE FUNCTION _tortoise_count_key(coll TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$ SELECT 'tortoise.count_' || md5(coll) $$;

-- _tortoise_count_pending is the change of coll's count that this
-- transaction has made and not yet written to _counts.
CREATE FUNCTION _tortoise_count_pending(coll TEXT) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(current_setting(_tortoise_count_key(coll) || '_d', true), ''), '0')::bigint
$$;

CREATE FUNCTION _tortoise_count_change(coll TEXT, d BIGINT) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	k TEXT := _tortoise_count_key(coll);
BEGIN
	IF d = 0 THEN
		RETURN;
	END IF;
	IF current_setting(k || '_s', true) IS DISTINCT FROM '1' THEN
		PERFORM set_config(k || '_s', '1', true);
		PERFORM _tortoise_count_add(coll, d);
	ELSE
		PERFORM set_config(k || '_d', (_tortoise_count_pending(coll) + d)::text, true);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION _tortoise_count_inserted() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	PERFORM _tortoise_count_change(TG_ARGV[0], (SELECT count(*) FROM _tortoise_new));
	RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION _tortoise_count_deleted() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	PERFORM _tortoise_count_change(TG_ARGV[0], -(SELECT count(*) FROM _tortoise_old));
	RETURN NULL;
END $$;

-- _tortoise_count_flush writes the pending sum; it runs once per queued
-- event, and a later statement queues a new one.
CREATE FUNCTION _tortoise_count_flush() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	k TEXT := _tortoise_count_key(TG_ARGV[0]);
	d BIGINT := _tortoise_count_pending(TG_ARGV[0]);
BEGIN
	PERFORM set_config(k || '_d', '0', true);
	PERFORM set_config(k || '_q', '', true);
	PERFORM _tortoise_count_add(TG_ARGV[0], d);
	RETURN NULL;
END $$;

-- TRUNCATE empties the count, pending changes included. (PostgreSQL
-- refuses TRUNCATE while the table has a queued event: Truncate in tx.go
-- runs it first, with _tortoise_count_settle.)
CREATE OR REPLACE FUNCTION _tortoise_count_truncated() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE _counts SET n = 0 WHERE collection = TG_ARGV[0];
	PERFORM set_config(_tortoise_count_key(TG_ARGV[0]) || '_d', '0', true);
	RETURN NULL;
END $$;

-- _tortoise_count_settle runs the commit-time event of table tbl now, if
-- it has one queued: PostgreSQL refuses TRUNCATE while it does.
CREATE FUNCTION _tortoise_count_settle(tbl TEXT) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_trigger
		WHERE tgname = '_tortoise_count_flush' AND tgrelid = to_regclass(format('%I', tbl))) THEN
		SET CONSTRAINTS _tortoise_count_flush IMMEDIATE;
		SET CONSTRAINTS _tortoise_count_flush DEFERRED;
	END IF;
END $$;

-- _tortoise_count_attach_flush creates the commit-time trigger of coll's
-- table tbl. Its WHEN runs per row and queues an event only for the first
-- row, after the first counting statement, that finds none queued.
CREATE FUNCTION _tortoise_count_attach_flush(coll TEXT, tbl TEXT) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	k TEXT := _tortoise_count_key(coll);
BEGIN
	EXECUTE format('CREATE CONSTRAINT TRIGGER _tortoise_count_flush AFTER INSERT OR DELETE ON %I'
		' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW'
		' WHEN (CASE WHEN current_setting(%L, true) IS DISTINCT FROM ''1'' OR current_setting(%L, true) = ''1'' THEN false'
		' ELSE set_config(%L, ''1'', true) = ''1'' END)'
		' EXECUTE FUNCTION _tortoise_count_flush(%L)', tbl, k || '_s', k || '_q', k || '_q', coll);
END $$;

CREATE OR REPLACE FUNCTION _tortoise_count_attach(coll TEXT, tbl TEXT) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	total BIGINT;
BEGIN
	EXECUTE format('CREATE TRIGGER _tortoise_count_ins AFTER INSERT ON %I REFERENCING NEW TABLE AS _tortoise_new'
		' FOR EACH STATEMENT EXECUTE FUNCTION _tortoise_count_inserted(%L)', tbl, coll);
	EXECUTE format('CREATE TRIGGER _tortoise_count_del AFTER DELETE ON %I REFERENCING OLD TABLE AS _tortoise_old'
		' FOR EACH STATEMENT EXECUTE FUNCTION _tortoise_count_deleted(%L)', tbl, coll);
	EXECUTE format('CREATE TRIGGER _tortoise_count_trunc AFTER TRUNCATE ON %I'
		' FOR EACH STATEMENT EXECUTE FUNCTION _tortoise_count_truncated(%L)', tbl, coll);
	PERFORM _tortoise_count_attach_flush(coll, tbl);
	EXECUTE format('SELECT count(*) FROM %I', tbl) INTO total;
	DELETE FROM _counts WHERE collection = coll;
	INSERT INTO _counts (collection, shard, n)
	SELECT coll, s, CASE WHEN s = 0 THEN total ELSE 0 END FROM generate_series(0, 15) AS s;
END $$;

-- Tables counted by 0003 get the commit-time trigger. Creating it takes
-- the table's SHARE ROW EXCLUSIVE lock, so no transaction is writing to it
-- meanwhile; one that wrote before wrote its shard per statement, which
-- needs no flush.
DO $$
DECLARE
	c RECORD;
BEGIN
	FOR c IN SELECT t.tgargs, r.relname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
		WHERE t.tgname = '_tortoise_count_ins' AND r.relnamespace = current_schema()::regnamespace
		ORDER BY r.relname
	LOOP
		-- tgargs holds the arguments, each ended by a zero byte.
		PERFORM _tortoise_count_attach_flush(
			convert_from(substring(c.tgargs FROM 1 FOR position('\x00'::bytea IN c.tgargs) - 1), 'UTF8'),
			c.relname);
	END LOOP;
END $$;
