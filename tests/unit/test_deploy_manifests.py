"""The Kubernetes deployment (``deploy/helm/parley``) renders, is valid, and
says what Parley needs.

No helm binary is needed: the chart's templates use only ``{{ .Values.a.b }}``,
``{{ .Release.Name }}`` and one ``{{- if .Values.… }}`` around a whole file,
which ``render`` substitutes from values.yaml the way helm does, and anything
else is refused, so the chart cannot drift into templating this test does not
understand. Every rendered resource is then validated against the schemas of
Kubernetes ``KUBERNETES_VERSION`` by kubernetes-validate, strictly (an unknown
or misspelt field is an error), offline: the schemas ship inside the package.

kubernetes-validate has no schema for custom resources. The CloudNativePG
``Cluster`` is checked against ``CNPG_CLUSTER`` instead: a hand-written schema
of only the fields this chart sets, copied from CloudNativePG 1.30's CRD, that
refuses any other field. The NATS subchart is not rendered here (it is helm's
to fetch); its values are checked for the settings Parley relies on.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "parley"
KUBERNETES_VERSION = "1.30"  # the oldest the chart supports (kubeVersion in Chart.yaml)
RELEASE = "parley"

ACTION = re.compile(r"\{\{(.*?)\}\}")
VALUE = re.compile(r" \.Values((?:\.\w+)+) ")
WHOLE_FILE_IF = re.compile(r"\{\{- if \.Values((?:\.\w+)+) \}\}\n(.*)\{\{- end \}\}\n", re.DOTALL)

CNPG_CLUSTER: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "postgresql.cnpg.io/v1"},
        "kind": {"const": "Cluster"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["instances", "bootstrap", "storage"],
            "additionalProperties": False,
            "properties": {
                "instances": {"type": "integer", "minimum": 1},
                "imageName": {"type": "string"},
                "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
                "bootstrap": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "initdb": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "database": {"type": "string"},
                                "owner": {"type": "string"},
                            },
                        }
                    },
                },
                "storage": {
                    "type": "object",
                    "required": ["size"],
                    "additionalProperties": False,
                    "properties": {"size": {"type": "string"}, "storageClass": {"type": "string"}},
                },
                "affinity": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enablePodAntiAffinity": {"type": "boolean"},
                        "topologyKey": {"type": "string"},
                    },
                },
                "resources": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}},
                },
            },
        },
    },
}


def scalar(values: dict[str, Any], path: str) -> str:
    """``.a.b`` in ``values`` as helm prints it; only scalars are substituted."""
    node: Any = values
    for key in path.strip(".").split("."):
        node = node[key]  # a missing value fails here (helm would print "<no value>")
    if isinstance(node, bool):
        return str(node).lower()
    if not isinstance(node, str | int):
        raise ValueError(f".Values{path} is {node!r}: only strings and integers are substituted")
    return str(node)


def render(text: str, values: dict[str, Any], release: str = RELEASE) -> list[dict[str, Any]]:
    """The documents of one template, rendered with ``values``."""
    wrapped = WHOLE_FILE_IF.fullmatch(text)
    if wrapped:
        if scalar(values, wrapped[1]) in ("false", "0", ""):
            return []
        text = wrapped[2]

    def substitute(action: re.Match[str]) -> str:
        if action[1] == " .Release.Name ":
            return release
        value = VALUE.fullmatch(action[1])
        if value is None:
            raise ValueError(f"this test renders only .Values and .Release.Name: {action[0]}")
        return scalar(values, value[1])

    return [doc for doc in yaml.safe_load_all(ACTION.sub(substitute, text)) if doc is not None]


def load_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


def render_chart(values: dict[str, Any]) -> list[dict[str, Any]]:
    templates = sorted((CHART / "templates").glob("*.yaml"))
    return [doc for path in templates for doc in render(path.read_text(), values)]


def with_ingress() -> dict[str, Any]:
    values = copy.deepcopy(load_values())
    values["ingress"]["enabled"] = True
    return values


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def container(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [only] = by_kind(docs, kind, name)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container["env"]}


DOCS = render_chart(with_ingress())


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_every_resource_is_valid_against_its_schema(doc: dict[str, Any]) -> None:
    if doc["kind"] == "Cluster":
        # A custom resource: kubernetes-validate has no schema for it, so the
        # hand-written subset of CloudNativePG's CRD checks it (see the top).
        jsonschema.validate(doc, CNPG_CLUSTER)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_chart_renders_the_expected_resources() -> None:
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in DOCS)
    assert kinds == [
        "Cluster/parley-db",
        "Deployment/parley-edge",
        "Deployment/parley-worker",
        "Ingress/parley-edge",
        "Job/parley-migrate",
        "PodDisruptionBudget/parley-edge",
        "Service/parley-edge",
    ]
    # No Secret is rendered (see the list); the Ingress is optional, off by default.
    assert "Ingress" not in {d["kind"] for d in render_chart(load_values())}


def test_the_edge_is_probed_on_the_health_endpoints() -> None:
    edge = container(DOCS, "Deployment", "parley-edge")
    assert edge["args"] == ["parley", "serve"]
    assert edge["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert edge["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert env(edge)["PARLEY_HTTP_HOST"]["value"] == "0.0.0.0"
    assert by_kind(DOCS, "Deployment", "parley-edge")["spec"]["replicas"] == 2
    # The Service, the PodDisruptionBudget and the Ingress all reach the edge pods.
    pod_labels = by_kind(DOCS, "Deployment", "parley-edge")["spec"]["template"]["metadata"]
    selector = by_kind(DOCS, "Service", "parley-edge")["spec"]["selector"]
    assert selector.items() <= pod_labels["labels"].items()
    pdb = by_kind(DOCS, "PodDisruptionBudget", "parley-edge")["spec"]
    assert pdb["selector"]["matchLabels"] == selector and pdb["minAvailable"] == 1
    ingress = by_kind(DOCS, "Ingress", "parley-edge")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "parley-edge"
    )
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]


def test_the_worker_runs_hot_replicas() -> None:
    worker = container(DOCS, "Deployment", "parley-worker")
    assert worker["args"] == ["parley", "worker"]
    assert by_kind(DOCS, "Deployment", "parley-worker")["spec"]["replicas"] == 2


@pytest.mark.parametrize("name", ["parley-edge", "parley-worker"])
def test_secrets_come_from_secrets_and_nats_from_the_cluster(name: str) -> None:
    variables = env(container(DOCS, "Deployment", name))
    secret = load_values()["secrets"]["existingSecret"]
    for key in ("PARLEY_JWT_SECRET", "PARLEY_MASTER_KEY"):
        assert variables[key]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}
    # CloudNativePG writes the connection URI, password included, into <cluster>-app.
    database = variables["PARLEY_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert database == {"name": "parley-db-app", "key": "uri"}
    # Reads go to the replicas (CloudNativePG's -ro service), with the same
    # credentials, which Kubernetes puts in from the secret ($(VAR)).
    for key, field in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
        assert variables[key]["valueFrom"]["secretKeyRef"] == {
            "name": "parley-db-app",
            "key": field,
        }
    read = variables["PARLEY_READ_DATABASE_URL"]["value"]
    assert read == "postgresql://$(DB_USER):$(DB_PASSWORD)@parley-db-ro:5432/app"
    names = list(variables)
    assert names.index("DB_PASSWORD") < names.index("PARLEY_READ_DATABASE_URL")  # $() order
    # No other variable that holds a secret carries a literal value.
    for key, var in variables.items():
        if re.search("SECRET|KEY|DATABASE_URL|PASSWORD", key) and key != "PARLEY_READ_DATABASE_URL":
            assert "value" not in var, key
    assert variables["PARLEY_NATS_REPLICAS"]["value"] == "3"
    assert variables["PARLEY_NATS_URL"]["value"].split(",") == [
        f"nats://parley-nats-{i}.parley-nats-headless:4222" for i in range(3)
    ]


def test_edge_and_worker_share_their_settings() -> None:
    edge = env(container(DOCS, "Deployment", "parley-edge"))
    worker = env(container(DOCS, "Deployment", "parley-worker"))
    http_only = {"PARLEY_HTTP_HOST", "PARLEY_HTTP_PORT"}
    assert {k: v for k, v in edge.items() if k not in http_only} == worker


def test_the_migration_job_runs_parley_migrate_as_a_hook() -> None:
    job = by_kind(DOCS, "Job", "parley-migrate")
    assert container(DOCS, "Job", "parley-migrate")["args"] == ["parley", "migrate"]
    # After the first install (the database is created by it), before each upgrade.
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_every_container_runs_the_one_parley_image() -> None:
    image = load_values()["image"]
    pods = [d["spec"]["template"]["spec"] for d in DOCS if d["kind"] in ("Deployment", "Job")]
    images = {c["image"] for pod in pods for c in pod["containers"] + pod.get("initContainers", [])}
    assert images == {f"{image['repository']}:{image['tag']}"}


def test_postgres_is_one_primary_and_one_replica() -> None:
    cluster = by_kind(DOCS, "Cluster", "parley-db")
    assert cluster["spec"]["instances"] == 2
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "parley", "owner": "parley"}
    assert cluster["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_nats_is_the_official_chart_as_a_three_node_jetstream_cluster() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    [nats] = chart["dependencies"]
    assert nats["name"] == "nats"
    assert nats["repository"] == "https://nats-io.github.io/k8s/helm/charts/"
    config = load_values()["nats"]["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    assert config["jetstream"]["enabled"] is True


def test_render_refuses_templating_it_does_not_understand() -> None:
    with pytest.raises(ValueError, match=r"only \.Values and \.Release\.Name"):
        render('name: {{ include "parley.fullname" . }}', {})
    with pytest.raises(ValueError, match="only strings and integers"):
        render("resources: {{ .Values.edge.resources }}", load_values())
