-- Versioned: a migration runs each file once; a change is a new version, never an edit.
-- v1 (costledger 0007): LlmUsageModelDaily and LlmUsageUserDaily kept equal to the sums of
-- LlmUsageDaily by a statement-level trigger.
CREATE OR REPLACE FUNCTION costledger_llmusagedaily_rollups() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    emptied bigint[];
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
        unpriced_requests = t.unpriced_requests + EXCLUDED.unpriced_requests;
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
        RETURNING id, rows)
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        DELETE FROM costledger_llmusageuserdaily WHERE id = ANY(emptied);
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
        RETURNING id, rows)
    SELECT array_agg(id) FILTER (WHERE rows = 0) INTO emptied FROM summed;
    IF emptied IS NOT NULL THEN
        DELETE FROM costledger_llmusageuserdaily WHERE id = ANY(emptied);
    END IF;
    ELSE  -- TRUNCATE
        DELETE FROM costledger_llmusagemodeldaily;
        DELETE FROM costledger_llmusageuserdaily;
    END IF;
    RETURN NULL;
END
$fn$;
