-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- (usage 0006) The sums that v4 of the trigger function and the triggers on the tag sums keep,
-- filled from what is there: the per-user sums per month of every month before this one (UTC),
-- those months closed; each user's active days, and the count of users and of tag values per
-- active day and next active day.
INSERT INTO costledger_llmusageusermonthly
    (month, user_id, source, rows, requests, tokens, cost, costed_rows, unpriced_requests)
SELECT date_trunc('month', day)::date, user_id, source, sum(rows), sum(requests), sum(tokens),
    sum(cost), sum(costed_rows), sum(unpriced_requests)
FROM costledger_llmusageuserdaily
WHERE day < date_trunc('month', now() AT TIME ZONE 'UTC')::date
GROUP BY 1, 2, 3;
INSERT INTO costledger_llmusageclosedmonth (month, closed_at)
SELECT DISTINCT date_trunc('month', day)::date, now() FROM costledger_llmusagemodeldaily
WHERE day < date_trunc('month', now() AT TIME ZONE 'UTC')::date;
INSERT INTO costledger_llmusageuseractiveday (user_id, day)
SELECT user_id, day FROM costledger_llmusageuserdaily WHERE source = 'events' AND user_id <> '';
INSERT INTO costledger_llmusageusernextdaycount (day, next_day, users)
SELECT day, next_day, count(*) FROM (
    SELECT day, lead(day) OVER (PARTITION BY user_id ORDER BY day) AS next_day
    FROM costledger_llmusageuseractiveday
) AS active GROUP BY day, next_day;
INSERT INTO costledger_llmusagetagnextdaycount (key, day, next_day, "values")
SELECT key, day, next_day, count(*) FROM (
    SELECT key, day, lead(day) OVER (PARTITION BY key, value ORDER BY day) AS next_day
    FROM costledger_llmusagetagdaily
) AS used GROUP BY key, day, next_day;
