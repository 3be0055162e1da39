-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- (costledger 0011) LlmUsageTagLatestCount kept by statement-level triggers on LlmUsageTagLatest
-- (a value moving from one latest day to another counts -1 on the old day and +1 on the new;
-- a transition table can only be named where the event provides it: one function per event),
-- then both it and LlmUsageTagKeyDaily filled from what is there.
CREATE FUNCTION llm_tag_latest_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM costledger_llmusagetaglatestcount;
        RETURN NULL;
    END IF;
    INSERT INTO costledger_llmusagetaglatestcount AS c (key, day, "values")
    SELECT key, day, sum(sign) FROM (
        SELECT 1 AS sign, key, day FROM new_rows WHERE TG_OP <> 'DELETE'
        UNION ALL
        SELECT -1, key, day FROM new_rows WHERE TG_OP <> 'INSERT'
    ) AS change
    GROUP BY key, day HAVING sum(sign) <> 0 ORDER BY key, day
    ON CONFLICT (key, day) DO UPDATE SET "values" = c."values" + EXCLUDED."values";
    RETURN NULL;
END
$fn$;

CREATE TRIGGER llm_tag_latest_insert AFTER INSERT ON costledger_llmusagetaglatest REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION llm_tag_latest_insert();

CREATE FUNCTION llm_tag_latest_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM costledger_llmusagetaglatestcount;
        RETURN NULL;
    END IF;
    INSERT INTO costledger_llmusagetaglatestcount AS c (key, day, "values")
    SELECT key, day, sum(sign) FROM (
        SELECT 1 AS sign, key, day FROM new_rows WHERE TG_OP <> 'DELETE'
        UNION ALL
        SELECT -1, key, day FROM old_rows WHERE TG_OP <> 'INSERT'
    ) AS change
    GROUP BY key, day HAVING sum(sign) <> 0 ORDER BY key, day
    ON CONFLICT (key, day) DO UPDATE SET "values" = c."values" + EXCLUDED."values";
    RETURN NULL;
END
$fn$;

CREATE TRIGGER llm_tag_latest_update AFTER UPDATE ON costledger_llmusagetaglatest REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION llm_tag_latest_update();

CREATE FUNCTION llm_tag_latest_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM costledger_llmusagetaglatestcount;
        RETURN NULL;
    END IF;
    INSERT INTO costledger_llmusagetaglatestcount AS c (key, day, "values")
    SELECT key, day, sum(sign) FROM (
        SELECT 1 AS sign, key, day FROM old_rows WHERE TG_OP <> 'DELETE'
        UNION ALL
        SELECT -1, key, day FROM old_rows WHERE TG_OP <> 'INSERT'
    ) AS change
    GROUP BY key, day HAVING sum(sign) <> 0 ORDER BY key, day
    ON CONFLICT (key, day) DO UPDATE SET "values" = c."values" + EXCLUDED."values";
    RETURN NULL;
END
$fn$;

CREATE TRIGGER llm_tag_latest_delete AFTER DELETE ON costledger_llmusagetaglatest REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION llm_tag_latest_delete();

CREATE FUNCTION llm_tag_latest_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM costledger_llmusagetaglatestcount;
        RETURN NULL;
    END IF;
    INSERT INTO costledger_llmusagetaglatestcount AS c (key, day, "values")
    SELECT key, day, sum(sign) FROM (
        SELECT 1 AS sign, key, day FROM new_rows WHERE TG_OP <> 'DELETE'
        UNION ALL
        SELECT -1, key, day FROM old_rows WHERE TG_OP <> 'INSERT'
    ) AS change
    GROUP BY key, day HAVING sum(sign) <> 0 ORDER BY key, day
    ON CONFLICT (key, day) DO UPDATE SET "values" = c."values" + EXCLUDED."values";
    RETURN NULL;
END
$fn$;

CREATE TRIGGER llm_tag_latest_truncate AFTER TRUNCATE ON costledger_llmusagetaglatest FOR EACH STATEMENT EXECUTE FUNCTION llm_tag_latest_truncate();

INSERT INTO costledger_llmusagetaglatestcount (key, day, "values") SELECT key, day, count(*) FROM costledger_llmusagetaglatest GROUP BY key, day;

INSERT INTO costledger_llmusagetagkeydaily (day, key, requests, cost, unpriced_requests, updated_at) SELECT day, key, sum(requests), sum(cost), sum(unpriced_requests), now() FROM costledger_llmusagetagdaily GROUP BY day, key;
