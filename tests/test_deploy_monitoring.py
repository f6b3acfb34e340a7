"""deploy/monitoring: alert rules, the Grafana dashboard and the operator's monitors, against what the service exports.

Every PromQL expression is parsed (promql-parser); every metric it selects must be a series the
service's /metrics really has, every label it matches or groups by a label of that series, and every
endpoint it names a route of the app. The monitors' selectors must select the Services and pods of
deploy/k8s, on ports they really have.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser as promql
import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service.jobs.rq_backend import queue_name
from service.ops.metrics import JobQueueCollector, Metrics, WorkerProcesses
from tests.support import small_shop
from tests.support.redis_db import REDIS_URL
from tests.support.scripted_provider import ScriptedProvider

REPO = Path(__file__).resolve().parent.parent
MONITORING = REPO / "deploy" / "monitoring"
K8S = REPO / "deploy" / "k8s"
# Labels Prometheus adds to every scraped series (target labels), and the pid WorkerProcesses adds under gunicorn.
TARGET_LABELS = {"instance", "job", "pod", "namespace", "service", "container", "endpoint_port"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}
REQUIRED_ALERTS = {  # issue 14 item 16
    "ShopguideHighErrorRate", "ShopguideDegradedShare", "ShopguideBreakerOpen", "ShopguideJobQueueBacklog",
    "ShopguideHighLatencyP99",
}


def exercised_metrics() -> Metrics:
    """A Metrics with a child of every labelled metric, so the exposition shows each one's labels."""
    m = Metrics()
    m.request("/v1/recommend", 200, 0.1)
    m.cache_event("hit")
    m.llm_call("openai", "gpt-4o-mini", "ok", 10, 5)
    m.retry("openai", None)
    m.fallback("openai", "local")
    m.breaker_state("openai", True)
    m.local_queue(1)
    m.provider_call("openai", "ok", 0.5)
    m.coalesced.inc()
    m.degraded.labels("recommend").inc()
    m.invalid_output.labels("repair").inc()
    m.rate_limited.labels("recommend").inc()
    m.auth_failures.labels("401").inc()
    return m


@cache
def exported() -> dict[str, set[str]]:
    """Every series name /metrics has -> its label names (target labels included)."""
    metrics = exercised_metrics()
    client = redis.Redis.from_url(REDIS_URL)
    metrics.watch(JobQueueCollector(client, queue_name("sgtest-monitoring-nothing-queued")))
    with tempfile.TemporaryDirectory() as empty:  # what gunicorn's multi-process mode adds (worker count)
        metrics.registry.register(WorkerProcesses(empty))
    text = metrics.exposition()[0].decode()
    client.close()
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        labels = set().union(*(set(s.labels) for s in family.samples)) if family.samples else set()
        for suffix in SUFFIXES.get(family.type, ("",)):
            name = family.name + suffix
            series[name] = (labels - {"le"}) | ({"le"} if suffix == "_bucket" else set()) | TARGET_LABELS
        if family.name.startswith("process_"):
            for name in list(series):
                if name.startswith(family.name):
                    series[name] |= {"pid"}  # under gunicorn, one series per worker (WorkerProcesses)
    return series


def routes() -> set[str]:
    app = small_shop.app(small_shop.settings(), ScriptedProvider())
    return {rule.rule for rule in app.url_map.iter_rules()}


# -- the expressions ----------------------------------------------------------------------------
def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads((MONITORING / "grafana-dashboard.json").read_text())


def expressions() -> Iterator[tuple[str, str]]:
    for rule in alert_rules():
        yield f"alert {rule['alert']}", rule["expr"]
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]


def selectors(node: Any) -> list[Any]:
    found: list[Any] = []
    promql.walk(node, lambda n: found.append(n) if isinstance(n, promql.VectorSelector) else None)
    return found


def aggregations(node: Any) -> list[Any]:
    found: list[Any] = []
    promql.walk(node, lambda n: found.append(n) if isinstance(n, promql.AggregateExpr) else None)
    return found


@pytest.mark.parametrize("where, expr", list(expressions()), ids=[w for w, _ in expressions()])
def test_expression_selects_metrics_the_service_exports(where: str, expr: str) -> None:
    tree = promql.parse(expr)
    series = exported()
    known_routes = routes()
    chosen = selectors(tree)
    assert chosen, f"{where}: selects no metric"
    for selector in chosen:
        assert selector.name in series, f"{where}: {selector.name} is not exported (have {sorted(series)})"
        for matcher in selector.matchers.matchers:
            assert matcher.name in series[selector.name], f"{where}: {selector.name} has no label {matcher.name}"
            if matcher.op in (promql.MatchOp.Re, promql.MatchOp.NotRe):
                re.compile(matcher.value)
            if matcher.name == "endpoint" and selector.name.startswith("shopguide_request"):
                if matcher.op == promql.MatchOp.Equal:
                    assert matcher.value in known_routes, f"{where}: no route {matcher.value}"
                else:
                    assert any(re.fullmatch(matcher.value, r) for r in known_routes), f"{where}: {matcher.value}"
    for aggregation in aggregations(tree):
        modifier = aggregation.modifier
        if modifier is None or modifier.type != promql.AggModifierType.By:
            continue
        for selector in selectors(aggregation.expr):
            missing = set(modifier.labels) - series[selector.name]
            assert not missing, f"{where}: {selector.name} has no label(s) {sorted(missing)} to group by"


def test_a_misspelt_metric_is_caught() -> None:
    """The check above is not vacuous: a name the service does not export fails it."""
    with pytest.raises(AssertionError, match="not exported"):
        test_expression_selects_metrics_the_service_exports("probe", "sum(rate(shopguide_request_total[5m]))")
    with pytest.raises(AssertionError, match="no label"):
        test_expression_selects_metrics_the_service_exports("probe", 'shopguide_breaker_open{model="x"}')
    with pytest.raises(AssertionError, match="no route"):
        test_expression_selects_metrics_the_service_exports(
            "probe", 'rate(shopguide_requests_total{endpoint="/v1/recommendations"}[5m])'
        )


# -- alert rules --------------------------------------------------------------------------------
def test_alert_rules_cover_the_issue_and_are_complete() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert REQUIRED_ALERTS <= set(names) and len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
        # A rule must compare: an alert on a bare value fires whenever the series exists.
        assert isinstance(promql.parse(rule["expr"]), promql.BinaryExpr), rule["alert"]


def test_prometheus_rule_carries_the_same_groups() -> None:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert (doc["apiVersion"], doc["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert doc["spec"]["groups"] == yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]


# -- the dashboard ------------------------------------------------------------------------------
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "panels", "schemaVersion", "templating"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "stat", "gauge", "table", "bargauge"]},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {"w": {"type": "integer", "minimum": 1, "maximum": 24},
                                       "x": {"type": "integer", "minimum": 0, "maximum": 23}},
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["refId", "expr"]},
                    },
                },
            },
        },
    },
}


def test_dashboard_is_well_formed() -> None:
    board = dashboard()
    jsonschema.validate(board, DASHBOARD_SCHEMA)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
    # What an on-call engineer opens it for (issue 14 items 16 and 17).
    text = json.dumps(board)
    for metric in ("shopguide_requests_total", "shopguide_degraded_answers_total", "shopguide_breaker_open",
                   "shopguide_job_queue_depth", "shopguide_job_queue_oldest_age_seconds", "shopguide_job_workers",
                   "shopguide_llm_latency_seconds_bucket", "shopguide_request_latency_seconds_bucket"):
        assert metric in text, metric


# -- the operator's monitors --------------------------------------------------------------------
def k8s_docs() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and doc["kind"] != "Kustomization":
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def monitors() -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((MONITORING / "servicemonitor.yaml").read_text())
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


_SELECTOR = {"type": "object", "required": ["matchLabels"], "properties": {"matchLabels": {"type": "object"}},
             "additionalProperties": False}
_ENDPOINT = {
    "type": "object",
    "required": ["port", "path"],
    "properties": {
        "port": {"type": "string"},
        "path": {"type": "string", "pattern": "^/"},
        "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
        "scrapeTimeout": {"type": "string", "pattern": r"^\d+[smh]$"},
        "authorization": {
            "type": "object",
            "required": ["type", "credentials"],
            "properties": {"type": {"const": "Bearer"},
                           "credentials": {"type": "object", "required": ["name", "key"]}},
        },
    },
    "additionalProperties": False,
}
# The fields of monitoring.coreos.com/v1 these files use (the operator's CRD schema, narrowed to them).
MONITOR_SCHEMA = {
    "ServiceMonitor": {"type": "object", "required": ["selector", "endpoints"],
                       "properties": {"selector": _SELECTOR, "endpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT}},
                       "additionalProperties": False},
    "PodMonitor": {"type": "object", "required": ["selector", "podMetricsEndpoints"],
                   "properties": {"selector": _SELECTOR, "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT}},
                   "additionalProperties": False},
}


def test_monitors_select_what_deploy_k8s_runs() -> None:
    found, docs = monitors(), k8s_docs()
    assert set(found) == {"ServiceMonitor/shopguide-web", "PodMonitor/shopguide-worker"}
    for doc in found.values():
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        jsonschema.validate(doc["spec"], MONITOR_SCHEMA[doc["kind"]])

    web = found["ServiceMonitor/shopguide-web"]["spec"]
    services = [d for d in docs.values() if d["kind"] == "Service"
                and web["selector"]["matchLabels"].items() <= d["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in services] == ["shopguide"]  # not the redis Service
    ports = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in web["endpoints"]} <= ports
    assert web["endpoints"][0]["path"] == "/metrics" and "/metrics" in routes()

    worker = found["PodMonitor/shopguide-worker"]["spec"]
    pods = [d for d in docs.values() if d["kind"] == "Deployment"
            and worker["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    assert [p["metadata"]["name"] for p in pods] == ["shopguide-worker"]
    container_ports = {p["name"] for p in pods[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {e["port"] for e in worker["podMetricsEndpoints"]} <= container_ports


def test_scrape_annotations_name_real_ports() -> None:
    docs = k8s_docs()
    for name in ("Deployment/shopguide-web", "Deployment/shopguide-worker"):
        template = docs[name]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
        ports = {p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert int(notes["prometheus.io/port"]) in ports


def test_monitoring_kustomization_lists_its_files() -> None:
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (MONITORING / resource).is_file()
    generated = kustomization["configMapGenerator"][0]
    assert generated["options"]["labels"] == {"grafana_dashboard": "1"}
    assert all((MONITORING / f).is_file() for f in generated["files"])
