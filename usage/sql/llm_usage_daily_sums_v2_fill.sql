-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- LlmUsageUserMonth and LlmUsageUserLatest of what is already there (costledger 0009).
INSERT INTO costledger_llmusageusermonth (month, user_id, days)
SELECT date_trunc('month', day)::date, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) FROM costledger_llmusageuserdaily
WHERE source = 'events' AND user_id <> '' GROUP BY 1, 2;
INSERT INTO costledger_llmusageuserlatest (user_id, day)
SELECT user_id, max(day) FROM costledger_llmusageuserdaily
WHERE source = 'events' AND user_id <> '' GROUP BY 1;
