-- Versioned: a migration runs each file once; a change is a new version, never an edit.
DROP TRIGGER llm_usage_rollups_insert ON costledger_llmusagedaily;
DROP TRIGGER llm_usage_rollups_update ON costledger_llmusagedaily;
DROP TRIGGER llm_usage_rollups_delete ON costledger_llmusagedaily;
DROP TRIGGER llm_usage_rollups_truncate ON costledger_llmusagedaily;
DROP FUNCTION costledger_llmusagedaily_rollups();
