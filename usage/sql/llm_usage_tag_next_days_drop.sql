-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- Undoes llm_usage_tag_next_days_v1.sql and its triggers (usage 0006, backwards).
DROP TRIGGER IF EXISTS llm_usage_tag_next_days_insert ON costledger_llmusagetagdaily;
DROP TRIGGER IF EXISTS llm_usage_tag_next_days_delete ON costledger_llmusagetagdaily;
DROP TRIGGER IF EXISTS llm_usage_tag_next_days_truncate ON costledger_llmusagetagdaily;
DROP FUNCTION IF EXISTS costledger_llmusagetagdaily_added();
DROP FUNCTION IF EXISTS costledger_llmusagetagdaily_removed();
DROP FUNCTION IF EXISTS costledger_llmusagetagdaily_truncated();
