"""The shipped alert rules and Grafana dashboard: valid, unit-tested, and about real series.

``promtool`` (Debian's prometheus package, which scripts/test installs) checks the rules
and runs their unit tests; without it those tests skip, except under ``CI=true``, where
its absence fails. Every PromQL expression, in the rules and in the dashboard, is parsed
(promql-parser) and each series it selects must be one hookline exports: in the metrics
registry, with the label names it has, and in a live ``/metrics`` scrape of a real server.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml

from hookline.metrics import Metrics

from support.metrics import scrape
from support.polling import wait_until
from support.receiver import Receiver
from support.server import ServerFactory

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "hookline-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "hookline-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "hookline.json"
#: Labels Prometheus adds to every series it scrapes (target labels).
TARGET_LABELS = frozenset({"job", "instance"})
#: Grafana's own variables, replaced by what they stand for before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
#: Sample suffixes of each metric type, as the text format writes them.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


@pytest.fixture(scope="module")
def promtool() -> str:
    """The promtool program (skipped without it, failed in CI)."""
    found = shutil.which("promtool")
    if found is None:
        reason = (
            "promtool is missing: install Debian's prometheus package (apt-get install prometheus)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{reason}. CI runs the alert rules' tests, never skips them.", pytrace=False
            )
        pytest.skip(reason)
    return found


def exported() -> dict[str, frozenset[str]]:
    """Every series name hookline exports, with the label names it carries."""
    metrics = Metrics()
    found: dict[str, frozenset[str]] = {}
    for metric in vars(metrics).values():
        # prometheus_client keeps a metric's name, type and label names on these attributes.
        name, kind = getattr(metric, "_name", None), getattr(metric, "_type", None)
        if name is None or kind not in SUFFIXES:
            continue
        labels = frozenset(metric._labelnames)
        for suffix in SUFFIXES[kind]:
            found[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


def selectors(node: Any) -> Iterator[promql_parser.VectorSelector]:
    """Every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node
    elif isinstance(node, promql_parser.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from selectors(node.lhs)
        yield from selectors(node.rhs)
    elif isinstance(node, promql_parser.Call):
        for argument in node.args:
            yield from selectors(argument)
    elif isinstance(node, promql_parser.AggregateExpr):
        yield from selectors(node.expr)
        if node.param is not None:
            yield from selectors(node.param)
    elif isinstance(
        node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
    ):
        yield from selectors(node.expr)


def used(expression: str) -> list[tuple[str, frozenset[str]]]:
    """The (metric name, label names matched) of each series an expression selects."""
    for variable, stands_for in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, stands_for)
    parsed = promql_parser.parse(expression)
    return [
        (selector.name, frozenset(m.name for m in selector.matchers.matchers))
        for selector in selectors(parsed)
    ]


def rule_expressions() -> dict[str, str]:
    """Each alert's PromQL expression, by alert name."""
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in document["groups"] for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    """Each PromQL expression of the dashboard (panel targets and variable queries)."""
    document = json.loads(DASHBOARD.read_text())
    found = {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in document["panels"]
        for target in panel.get("targets", [])
    }
    for variable in document["templating"]["list"]:
        definition = variable.get("definition", "")
        # label_values(<selector>, <label>) is Grafana's, not PromQL: check its selector.
        match = re.fullmatch(r"label_values\((.+), *\w+\)", definition)
        if match:
            found[f"variable {variable['name']}"] = match[1]
    return found


def test_promtool_finds_the_alert_rules_valid(promtool: str) -> None:
    """``promtool check rules`` accepts the shipped rules."""
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in checked.stdout


def test_the_alert_rules_pass_their_promtool_unit_tests(promtool: str) -> None:
    """``promtool test rules`` runs the rules' unit tests, and they pass."""
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    """Each alert in the rules is expected to fire in at least one promtool test case."""
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    assert set(rule_expressions()) == firing


@pytest.mark.parametrize(
    ("where", "expressions"),
    [("rules", rule_expressions()), ("dashboard", dashboard_expressions())],
)
def test_every_expression_selects_series_hookline_exports(
    where: str, expressions: dict[str, str]
) -> None:
    """Each series selected names a metric of the registry, with label names it has."""
    known = exported()
    assert expressions, f"no expression found in the {where}"
    for name, expression in expressions.items():
        series = used(expression)
        assert series, f"{where}: {name} selects nothing"
        for metric, labels in series:
            assert metric in known, f"{where}: {name} uses {metric}, which hookline does not export"
            unknown = labels - known[metric] - TARGET_LABELS
            assert not unknown, f"{where}: {name} matches {metric} on labels it has not: {unknown}"


def test_every_metric_the_files_use_is_in_a_live_scrape(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """After a delivery and an inbound request, /metrics has every series the files use."""
    server = start_server()
    secret = "whsec_" + base64.b64encode(b"a provider's signing secret, 32B").decode()
    with server.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
        api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": receiver.url})
        api.post(f"/api/v1/app/{app_id}/msg", json={"eventType": "a.b", "payload": {}})
        source = api.post(f"/api/v1/app/{app_id}/source", json={
            "name": "provider", "verifier": {"type": "standard_webhooks", "secrets": [secret]},
        }).json()  # fmt: skip
    with httpx.Client(timeout=10) as provider:
        assert provider.post(source["ingestUrl"], content=b"{}").status_code == 401
    receiver.wait_for(1)

    def names() -> set[str] | None:
        found = {name for name, _ in scrape(server)}
        return found if "hookline_attempts_total" in found else None

    live = wait_until(names, what="an attempt counted")
    wanted = {
        metric
        for expressions in (rule_expressions(), dashboard_expressions())
        for expression in expressions.values()
        for metric, _ in used(expression)
    }
    assert wanted - live == set()
