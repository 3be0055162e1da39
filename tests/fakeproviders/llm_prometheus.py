"""Prometheus answering instant queries over LiteLLM's metrics, as documented (fixture:
llm_prometheus_litellm_query.json): three series per metric, values as the strings Prometheus
sends, with the fractions increase() gives."""

from tests.fakeproviders.server import Route, fixture

# Per metric, the value of each series of the fixture (placeholders gpt_4o, claude, gpt_4o_mini).
VALUES = {
    "litellm_requests_metric_total": {
        "gpt_4o": "42",
        "claude": "17.000000000000004",
        "gpt_4o_mini": "120",
    },
    "litellm_llm_api_failed_requests_metric_total": {
        "gpt_4o": "1",
        "claude": "0",
        "gpt_4o_mini": "3.0000000000000004",
    },
    "litellm_input_tokens_metric_total": {
        "gpt_4o": "18234.56",
        "claude": "9876",
        "gpt_4o_mini": "40210.49",
    },
    "litellm_output_tokens_metric_total": {
        "gpt_4o": "5120",
        "claude": "2344.5",
        "gpt_4o_mini": "8001",
    },
    "litellm_spend_metric_total": {
        "gpt_4o": "0.0967",
        "claude": "0.06480300000000001",
        "gpt_4o_mini": "0.01085415",
    },
}


def litellm_answer(query: str, at: int, values: dict | None = None) -> dict:
    """The documented vector answer for an instant query naming one of VALUES' metrics; an
    empty vector for any other metric (as Prometheus answers for a series it does not have)."""
    values = values or VALUES
    metric = next((name for name in values if f"({name}[" in query), None)
    if metric is None:
        return {"status": "success", "data": {"resultType": "vector", "result": []}}
    answer = fixture("llm_prometheus_litellm_query.json", **values[metric])
    for series in answer["data"]["result"]:
        series["value"][0] = at
    return answer


def _query(query, day):
    return litellm_answer(query["query"][0], int(query["time"][0]))


ROUTES = [Route("GET", "/prometheus/api/v1/query", _query)]
ENV = {
    "PROMETHEUS_URL": "{base}/prometheus",
    "PROMETHEUS_BEARER_TOKEN": "fake-prometheus-token",
}
# requests: LiteLLM counts successes and failures apart; 43 + 17 + 123.
EXPECTED = {
    "requests": 183,
    "errors": 4,
    "input_tokens": 68321,
    "output_tokens": 15466,
    "cost": "0.17235715",
    "users": 2,
}
