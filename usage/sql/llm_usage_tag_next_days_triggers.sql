-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- The statement-level triggers on LlmUsageTagDaily that run the functions of
-- llm_usage_tag_next_days_v1.sql (usage 0006). No trigger on UPDATE: its writers (ingest, rebuild)
-- never change a row's key, and an update only adds to its sums.
CREATE TRIGGER llm_usage_tag_next_days_insert AFTER INSERT ON costledger_llmusagetagdaily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagetagdaily_added();
CREATE TRIGGER llm_usage_tag_next_days_delete AFTER DELETE ON costledger_llmusagetagdaily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagetagdaily_removed();
CREATE TRIGGER llm_usage_tag_next_days_truncate AFTER TRUNCATE ON costledger_llmusagetagdaily
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagetagdaily_truncated();
