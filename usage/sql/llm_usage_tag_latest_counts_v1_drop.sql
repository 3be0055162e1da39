-- Versioned: a migration runs each file once; a change is a new version, never an edit.
DROP TRIGGER llm_tag_latest_insert ON costledger_llmusagetaglatest;
DROP FUNCTION llm_tag_latest_insert();
DROP TRIGGER llm_tag_latest_update ON costledger_llmusagetaglatest;
DROP FUNCTION llm_tag_latest_update();
DROP TRIGGER llm_tag_latest_delete ON costledger_llmusagetaglatest;
DROP FUNCTION llm_tag_latest_delete();
DROP TRIGGER llm_tag_latest_truncate ON costledger_llmusagetaglatest;
DROP FUNCTION llm_tag_latest_truncate();
