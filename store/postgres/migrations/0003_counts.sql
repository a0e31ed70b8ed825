-- _counts keeps each base or auth collection's exact row count, so that an
-- unfiltered list total reads a few rows instead of scanning the table
-- (store/postgres/counts.go tells the whole story). A count is the sum of
-- its collection's shards; each transaction adds its change to one shard,
-- so concurrent writers to one collection rarely wait on one row lock.
-- Rows are keyed by collection id, which a rename keeps.
CREATE TABLE _counts (
	collection TEXT NOT NULL,
	shard INT NOT NULL,
	n BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (collection, shard));

-- _tortoise_count_add adds d to one shard of coll's count. It takes the
-- shard this backend prefers (its pid modulo 16) unless another
-- transaction holds that row, in which case the next free one: SKIP LOCKED
-- does not skip rows this transaction holds itself, so a transaction keeps
-- to the shard it took first. Only when all 16 are held does it wait for
-- its own. search_path is fixed to the schema the store lives in, so a
-- write from a session with another search_path counts in the right table.
CREATE FUNCTION _tortoise_count_add(coll TEXT, d BIGINT) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	pref INT := pg_backend_pid() % 16;
BEGIN
	IF d = 0 THEN
		RETURN;
	END IF;
	UPDATE _counts c SET n = c.n + d
	WHERE c.collection = coll AND c.shard = (
		SELECT s.shard FROM _counts s WHERE s.collection = coll
		ORDER BY (s.shard - pref + 16) % 16
		LIMIT 1 FOR UPDATE SKIP LOCKED);
	IF NOT FOUND THEN
		INSERT INTO _counts (collection, shard, n) VALUES (coll, pref, d)
		ON CONFLICT (collection, shard) DO UPDATE SET n = _counts.n + excluded.n;
	END IF;
END $$;

-- The triggers are per statement, reading the statement's rows from its
-- transition table: a statement deleting 10,000 rows changes a shard once.
-- TG_ARGV[0] is the collection id.
CREATE FUNCTION _tortoise_count_inserted() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	PERFORM _tortoise_count_add(TG_ARGV[0], (SELECT count(*) FROM _tortoise_new));
	RETURN NULL;
END $$;

CREATE FUNCTION _tortoise_count_deleted() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	PERFORM _tortoise_count_add(TG_ARGV[0], -(SELECT count(*) FROM _tortoise_old));
	RETURN NULL;
END $$;

-- TRUNCATE holds the table's ACCESS EXCLUSIVE lock, so no other
-- transaction is writing to it and none holds one of its shards.
CREATE FUNCTION _tortoise_count_truncated() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE _counts SET n = 0 WHERE collection = TG_ARGV[0];
	RETURN NULL;
END $$;

-- _tortoise_count_attach starts counting coll's rows in table tbl: it
-- creates the triggers, then counts the rows once. CREATE TRIGGER takes the
-- table's SHARE ROW EXCLUSIVE lock, which waits for the transactions
-- writing to it and holds off new ones until this transaction ends; so the
-- COUNT(*) that follows (a fresh snapshot, READ COMMITTED) sees every row
-- written without the trigger, and every later write runs the trigger.
-- Writers wait for the length of that one count. Existing counts of coll
-- are replaced.
CREATE FUNCTION _tortoise_count_attach(coll TEXT, tbl TEXT) RETURNS VOID
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
	EXECUTE format('SELECT count(*) FROM %I', tbl) INTO total;
	DELETE FROM _counts WHERE collection = coll;
	INSERT INTO _counts (collection, shard, n)
	SELECT coll, s, CASE WHEN s = 0 THEN total ELSE 0 END FROM generate_series(0, 15) AS s;
END $$;

-- Existing base and auth collections start counting now, in creation
-- order; their tables are locked against writes until this migration
-- commits. View collections have no table and keep COUNT(*); so does a
-- collection whose table is missing, rather than the migration failing
-- (and the store with it) over it.
DO $$
DECLARE
	c RECORD;
BEGIN
	FOR c IN SELECT id, name FROM _collections
		WHERE coalesce(data::jsonb ->> 'type', '') <> 'view' ORDER BY seq
	LOOP
		IF to_regclass(format('%I', c.name)) IS NOT NULL THEN
			PERFORM _tortoise_count_attach(c.id, c.name);
		END IF;
	END LOOP;
END $$;
