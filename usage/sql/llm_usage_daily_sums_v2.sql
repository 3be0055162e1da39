-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- v2 (costledger 0009): v1, now also keeping LlmUsageUserMonth and LlmUsageUserLatest.
CREATE OR REPLACE FUNCTION costledger_llmusagedaily_rollups() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    emptied bigint[];
    gone_days date[];
    gone_users text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        
    INSERT INTO costledger_llmusagemodeldaily AS t (day, provider, model, source, rows,
        requests, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        reasoning_tokens, cost, costed_rows, unpriced_requests, latency_ms_sum)
    SELECT day, provider, model, source, sum(sign), sum(sign * requests), sum(sign * errors),
        sum(sign * input_tokens), sum(sign * output_tokens), sum(sign * cache_read_tokens),
        sum(sign * cache_write_tokens), sum(sign * reasoning_tokens),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests), sum(sign * latency_ms_sum)
    FROM (SELECT 1 AS sign, * FROM new_rows) AS change
    GROUP BY day, provider, model, source
    ORDER BY day, provider, model, source
    ON CONFLICT (day, provider, model, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        errors = t.errors + EXCLUDED.errors, input_tokens = t.input_tokens + EXCLUDED.input_tokens,
        output_tokens = t.output_tokens + EXCLUDED.output_tokens,
        cache_read_tokens = t.cache_read_tokens + EXCLUDED.cache_read_tokens,
        cache_write_tokens = t.cache_write_tokens + EXCLUDED.cache_write_tokens,
        reasoning_tokens = t.reasoning_tokens + EXCLUDED.reasoning_tokens,
        cost = t.cost + EXCLUDED.cost, costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        latency_ms_sum = t.latency_ms_sum + EXCLUDED.latency_ms_sum;

    WITH summed AS (
    INSERT INTO costledger_llmusageuserdaily AS t (day, user_id, source, rows, requests, tokens,
        cost, costed_rows, unpriced_requests)
    SELECT day, user_id, source, sum(sign), sum(sign * requests),
        sum(sign * (input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
                    + reasoning_tokens)),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests)
    FROM (SELECT 1 AS sign, * FROM new_rows) AS change
    GROUP BY day, user_id, source
    ORDER BY day, user_id, source
    ON CONFLICT (day, user_id, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        tokens = t.tokens + EXCLUDED.tokens, cost = t.cost + EXCLUDED.cost,
        costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests
        RETURNING id, day, user_id, source, rows, (t.xmax = 0) AS created
    ), marked AS (
        INSERT INTO costledger_llmusageusermonth AS m (month, user_id, days)
        SELECT date_trunc('month', day)::date, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (month, user_id) DO UPDATE SET days = m.days | EXCLUDED.days
    ), latest AS (
        INSERT INTO costledger_llmusageuserlatest AS l (user_id, day)
        SELECT user_id, max(day) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
    )
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        WITH gone AS (
            DELETE FROM costledger_llmusageuserdaily WHERE id = ANY(emptied)
            RETURNING day, user_id, source
        )
        SELECT array_agg(day), array_agg(user_id) INTO gone_days, gone_users
        FROM gone WHERE source = 'events' AND user_id <> '';
    END IF;
    IF emptied IS NOT NULL AND gone_users IS NOT NULL THEN
        WITH cleared AS (
            UPDATE costledger_llmusageusermonth AS m SET days = m.days & ~b.days
            FROM (SELECT date_trunc('month', day)::date AS month, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) AS days
                  FROM unnest(gone_days, gone_users) AS g(day, user_id) GROUP BY 1, 2) AS b
            WHERE m.month = b.month AND m.user_id = b.user_id
            RETURNING m.id, m.days
        )
        SELECT array_agg(id) FILTER (WHERE days = 0) INTO emptied FROM cleared;
        IF emptied IS NOT NULL THEN
            DELETE FROM costledger_llmusageusermonth WHERE id = ANY(emptied) AND days = 0;
        END IF;
        WITH stale AS (
            SELECT DISTINCT l.user_id, l.day FROM costledger_llmusageuserlatest l
            JOIN unnest(gone_days, gone_users) AS g(day, user_id)
                ON l.user_id = g.user_id AND l.day = g.day
        ), remaining AS (
            SELECT m.user_id, max(m.month + (32 - position('1' IN m.days::bit(32)::text))) AS day
            FROM costledger_llmusageusermonth m JOIN stale USING (user_id) GROUP BY m.user_id
        ), moved AS (
            UPDATE costledger_llmusageuserlatest AS l SET day = r.day
            FROM stale s JOIN remaining r USING (user_id)
            WHERE l.user_id = s.user_id AND l.day = s.day
        )
        DELETE FROM costledger_llmusageuserlatest AS l USING stale s
        WHERE l.user_id = s.user_id AND l.day = s.day
            AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.user_id = s.user_id);
    END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        
    WITH summed AS (
    INSERT INTO costledger_llmusagemodeldaily AS t (day, provider, model, source, rows,
        requests, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        reasoning_tokens, cost, costed_rows, unpriced_requests, latency_ms_sum)
    SELECT day, provider, model, source, sum(sign), sum(sign * requests), sum(sign * errors),
        sum(sign * input_tokens), sum(sign * output_tokens), sum(sign * cache_read_tokens),
        sum(sign * cache_write_tokens), sum(sign * reasoning_tokens),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests), sum(sign * latency_ms_sum)
    FROM (SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows) AS change
    GROUP BY day, provider, model, source
    ORDER BY day, provider, model, source
    ON CONFLICT (day, provider, model, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        errors = t.errors + EXCLUDED.errors, input_tokens = t.input_tokens + EXCLUDED.input_tokens,
        output_tokens = t.output_tokens + EXCLUDED.output_tokens,
        cache_read_tokens = t.cache_read_tokens + EXCLUDED.cache_read_tokens,
        cache_write_tokens = t.cache_write_tokens + EXCLUDED.cache_write_tokens,
        reasoning_tokens = t.reasoning_tokens + EXCLUDED.reasoning_tokens,
        cost = t.cost + EXCLUDED.cost, costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        latency_ms_sum = t.latency_ms_sum + EXCLUDED.latency_ms_sum
        RETURNING id, rows)
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        DELETE FROM costledger_llmusagemodeldaily WHERE id = ANY(emptied);
    END IF;

    WITH summed AS (
    INSERT INTO costledger_llmusageuserdaily AS t (day, user_id, source, rows, requests, tokens,
        cost, costed_rows, unpriced_requests)
    SELECT day, user_id, source, sum(sign), sum(sign * requests),
        sum(sign * (input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
                    + reasoning_tokens)),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests)
    FROM (SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows) AS change
    GROUP BY day, user_id, source
    ORDER BY day, user_id, source
    ON CONFLICT (day, user_id, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        tokens = t.tokens + EXCLUDED.tokens, cost = t.cost + EXCLUDED.cost,
        costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests
        RETURNING id, day, user_id, source, rows, (t.xmax = 0) AS created
    ), marked AS (
        INSERT INTO costledger_llmusageusermonth AS m (month, user_id, days)
        SELECT date_trunc('month', day)::date, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (month, user_id) DO UPDATE SET days = m.days | EXCLUDED.days
    ), latest AS (
        INSERT INTO costledger_llmusageuserlatest AS l (user_id, day)
        SELECT user_id, max(day) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
    )
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        WITH gone AS (
            DELETE FROM costledger_llmusageuserdaily WHERE id = ANY(emptied)
            RETURNING day, user_id, source
        )
        SELECT array_agg(day), array_agg(user_id) INTO gone_days, gone_users
        FROM gone WHERE source = 'events' AND user_id <> '';
    END IF;
    IF emptied IS NOT NULL AND gone_users IS NOT NULL THEN
        WITH cleared AS (
            UPDATE costledger_llmusageusermonth AS m SET days = m.days & ~b.days
            FROM (SELECT date_trunc('month', day)::date AS month, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) AS days
                  FROM unnest(gone_days, gone_users) AS g(day, user_id) GROUP BY 1, 2) AS b
            WHERE m.month = b.month AND m.user_id = b.user_id
            RETURNING m.id, m.days
        )
        SELECT array_agg(id) FILTER (WHERE days = 0) INTO emptied FROM cleared;
        IF emptied IS NOT NULL THEN
            DELETE FROM costledger_llmusageusermonth WHERE id = ANY(emptied) AND days = 0;
        END IF;
        WITH stale AS (
            SELECT DISTINCT l.user_id, l.day FROM costledger_llmusageuserlatest l
            JOIN unnest(gone_days, gone_users) AS g(day, user_id)
                ON l.user_id = g.user_id AND l.day = g.day
        ), remaining AS (
            SELECT m.user_id, max(m.month + (32 - position('1' IN m.days::bit(32)::text))) AS day
            FROM costledger_llmusageusermonth m JOIN stale USING (user_id) GROUP BY m.user_id
        ), moved AS (
            UPDATE costledger_llmusageuserlatest AS l SET day = r.day
            FROM stale s JOIN remaining r USING (user_id)
            WHERE l.user_id = s.user_id AND l.day = s.day
        )
        DELETE FROM costledger_llmusageuserlatest AS l USING stale s
        WHERE l.user_id = s.user_id AND l.day = s.day
            AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.user_id = s.user_id);
    END IF;
    ELSIF TG_OP = 'DELETE' THEN
        
    WITH summed AS (
    INSERT INTO costledger_llmusagemodeldaily AS t (day, provider, model, source, rows,
        requests, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        reasoning_tokens, cost, costed_rows, unpriced_requests, latency_ms_sum)
    SELECT day, provider, model, source, sum(sign), sum(sign * requests), sum(sign * errors),
        sum(sign * input_tokens), sum(sign * output_tokens), sum(sign * cache_read_tokens),
        sum(sign * cache_write_tokens), sum(sign * reasoning_tokens),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests), sum(sign * latency_ms_sum)
    FROM (SELECT -1 AS sign, * FROM old_rows) AS change
    GROUP BY day, provider, model, source
    ORDER BY day, provider, model, source
    ON CONFLICT (day, provider, model, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        errors = t.errors + EXCLUDED.errors, input_tokens = t.input_tokens + EXCLUDED.input_tokens,
        output_tokens = t.output_tokens + EXCLUDED.output_tokens,
        cache_read_tokens = t.cache_read_tokens + EXCLUDED.cache_read_tokens,
        cache_write_tokens = t.cache_write_tokens + EXCLUDED.cache_write_tokens,
        reasoning_tokens = t.reasoning_tokens + EXCLUDED.reasoning_tokens,
        cost = t.cost + EXCLUDED.cost, costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests,
        latency_ms_sum = t.latency_ms_sum + EXCLUDED.latency_ms_sum
        RETURNING id, rows)
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        DELETE FROM costledger_llmusagemodeldaily WHERE id = ANY(emptied);
    END IF;

    WITH summed AS (
    INSERT INTO costledger_llmusageuserdaily AS t (day, user_id, source, rows, requests, tokens,
        cost, costed_rows, unpriced_requests)
    SELECT day, user_id, source, sum(sign), sum(sign * requests),
        sum(sign * (input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
                    + reasoning_tokens)),
        coalesce(sum(sign * cost) FILTER (WHERE currency = 'USD'), 0),
        coalesce(sum(sign) FILTER (WHERE cost IS NOT NULL AND currency = 'USD'), 0),
        sum(sign * unpriced_requests)
    FROM (SELECT -1 AS sign, * FROM old_rows) AS change
    GROUP BY day, user_id, source
    ORDER BY day, user_id, source
    ON CONFLICT (day, user_id, source) DO UPDATE SET
        rows = t.rows + EXCLUDED.rows, requests = t.requests + EXCLUDED.requests,
        tokens = t.tokens + EXCLUDED.tokens, cost = t.cost + EXCLUDED.cost,
        costed_rows = t.costed_rows + EXCLUDED.costed_rows,
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests
        RETURNING id, day, user_id, source, rows, (t.xmax = 0) AS created
    ), marked AS (
        INSERT INTO costledger_llmusageusermonth AS m (month, user_id, days)
        SELECT date_trunc('month', day)::date, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (month, user_id) DO UPDATE SET days = m.days | EXCLUDED.days
    ), latest AS (
        INSERT INTO costledger_llmusageuserlatest AS l (user_id, day)
        SELECT user_id, max(day) FROM summed
        WHERE created AND source = 'events' AND user_id <> ''
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET day = EXCLUDED.day WHERE l.day < EXCLUDED.day
    )
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        WITH gone AS (
            DELETE FROM costledger_llmusageuserdaily WHERE id = ANY(emptied)
            RETURNING day, user_id, source
        )
        SELECT array_agg(day), array_agg(user_id) INTO gone_days, gone_users
        FROM gone WHERE source = 'events' AND user_id <> '';
    END IF;
    IF emptied IS NOT NULL AND gone_users IS NOT NULL THEN
        WITH cleared AS (
            UPDATE costledger_llmusageusermonth AS m SET days = m.days & ~b.days
            FROM (SELECT date_trunc('month', day)::date AS month, user_id, bit_or(1 << (extract(day FROM day)::int - 1)) AS days
                  FROM unnest(gone_days, gone_users) AS g(day, user_id) GROUP BY 1, 2) AS b
            WHERE m.month = b.month AND m.user_id = b.user_id
            RETURNING m.id, m.days
        )
        SELECT array_agg(id) FILTER (WHERE days = 0) INTO emptied FROM cleared;
        IF emptied IS NOT NULL THEN
            DELETE FROM costledger_llmusageusermonth WHERE id = ANY(emptied) AND days = 0;
        END IF;
        WITH stale AS (
            SELECT DISTINCT l.user_id, l.day FROM costledger_llmusageuserlatest l
            JOIN unnest(gone_days, gone_users) AS g(day, user_id)
                ON l.user_id = g.user_id AND l.day = g.day
        ), remaining AS (
            SELECT m.user_id, max(m.month + (32 - position('1' IN m.days::bit(32)::text))) AS day
            FROM costledger_llmusageusermonth m JOIN stale USING (user_id) GROUP BY m.user_id
        ), moved AS (
            UPDATE costledger_llmusageuserlatest AS l SET day = r.day
            FROM stale s JOIN remaining r USING (user_id)
            WHERE l.user_id = s.user_id AND l.day = s.day
        )
        DELETE FROM costledger_llmusageuserlatest AS l USING stale s
        WHERE l.user_id = s.user_id AND l.day = s.day
            AND NOT EXISTS (SELECT 1 FROM remaining r WHERE r.user_id = s.user_id);
    END IF;
    ELSE  -- TRUNCATE
        DELETE FROM costledger_llmusagemodeldaily;
        DELETE FROM costledger_llmusageuserdaily;
        DELETE FROM costledger_llmusageusermonth;
        DELETE FROM costledger_llmusageuserlatest;
    END IF;
    RETURN NULL;
END
$fn$;
