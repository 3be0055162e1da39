-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- The statement-level triggers on LlmUsageDaily that run the sums' function (costledger 0007).
CREATE TRIGGER llm_usage_rollups_insert AFTER INSERT ON costledger_llmusagedaily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagedaily_rollups();
CREATE TRIGGER llm_usage_rollups_update AFTER UPDATE ON costledger_llmusagedaily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagedaily_rollups();
CREATE TRIGGER llm_usage_rollups_delete AFTER DELETE ON costledger_llmusagedaily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagedaily_rollups();
CREATE TRIGGER llm_usage_rollups_truncate AFTER TRUNCATE ON costledger_llmusagedaily
    FOR EACH STATEMENT EXECUTE FUNCTION costledger_llmusagedaily_rollups();
