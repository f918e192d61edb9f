"""wskdeploy manifests read into a plan (cli.manifest.load_plan): the shapes of wskdeploy's
specification, deployment-file overrides, ${ENV} substitution, errors that name the problem."""

from pathlib import Path

import pytest

from cli.errors import CliError
from cli.manifest import input_value, load_plan

EXAMPLES = Path(__file__).parents[1] / "e2e" / "wskdeploy"


def plan_of(name: str, deployment: str | None = None, env=None):
    text = (EXAMPLES / name).read_text()
    dep = (EXAMPLES / deployment).read_text() if deployment else None
    return load_plan(text, (EXAMPLES / name).parent, dep, env=env or {})


def by_path(plan):
    return {(e.collection, e.path): e.body for e in plan.entities}


def test_packages_actions_sequences_in_deploy_order():
    plan = plan_of("manifest_sequence_basic.yaml")
    assert plan.project == "fellowship_package"
    assert [(e.collection, e.path) for e in plan.entities] == [
        ("packages", "fellowship_package"),
        ("actions", "fellowship_package/member_join"),
        ("actions", "fellowship_package/member_process"),
        ("actions", "fellowship_package/fellowship_membership"),
    ]
    entities = by_path(plan)
    join = entities[("actions", "fellowship_package/member_join")]
    assert join["exec"]["kind"] == "python:default" and "def main" in join["exec"]["code"]
    params = {p["key"]: p["value"] for p in join["parameters"]}
    assert params["name"] == "unknown" and params["height"] == 0.0
    seq = entities[("actions", "fellowship_package/fellowship_membership")]["exec"]
    assert seq["components"] == [
        "/_/fellowship_package/member_join",
        "/_/fellowship_package/member_process",
    ]


def test_triggers_rules_and_the_deployment_files_inputs():
    plan = plan_of(
        "manifest_hello_world_triggerrule.yaml", "deployment_hello_world_triggerrule_bindings.yaml"
    )
    entities = by_path(plan)
    trigger = {p["key"]: p["value"] for p in entities[("triggers", "meetPerson")]["parameters"]}
    assert trigger == {"name": "Elrond", "place": "Rivendell", "children": 3, "height": 1.88}
    assert entities[("rules", "meetPersonRule")] == {
        "trigger": "/_/meetPerson",
        "action": "/_/hello_world_package/hello_world_triggerrule",
    }
    action = entities[("actions", "hello_world_package/hello_world_triggerrule")]
    assert {p["key"]: p["value"] for p in action["parameters"]}["children"] == 0


def test_feeds_project_names_and_apis():
    plan = plan_of("alarmtrigger/manifest.yaml", "alarmtrigger/deployment.yaml")
    assert plan.project == "HelloWorldEvery12Hours"
    trigger = by_path(plan)[("triggers", "Every12Hours")]
    assert trigger["annotations"] == [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]
    assert trigger["parameters"] == [{"key": "cron", "value": "0 */12 * * *"}]
    (route,) = plan_of("manifest_hello_world_apigateway.yaml").apis
    assert (route.api_name, route.base_path, route.rel_path, route.method, route.action) == (
        "hello-world",
        "/hello",
        "/world",
        "GET",
        "hello_world_package/hello_world",
    )
    web = by_path(plan_of("manifest_hello_world_apigateway.yaml"))[
        ("actions", "hello_world_package/hello_world")
    ]
    assert {"key": "web-export", "value": True} in web["annotations"]


def test_environment_substitution_and_its_error():
    env = {"FIRSTNAME": "Bilbo", "TOWN": "Hobbiton", "COUNTRY": "the Shire"}
    plan = plan_of("manifest_hello_world_env_var_parms.yaml", env=env)
    (action,) = [e for e in plan.entities if e.collection == "actions"]
    params = {p["key"]: p["value"] for p in action.body["parameters"]}
    assert params == {"name": "Bilbo", "place": "Hobbiton, the Shire"}
    with pytest.raises(CliError, match="COUNTRY"):
        plan_of("manifest_hello_world_env_var_parms.yaml", env={"FIRSTNAME": "a", "TOWN": "b"})


def test_inputs_and_bad_manifests():
    assert input_value("integer") == 0 and input_value({"type": "json"}) == {}
    assert input_value({"value": 3, "type": "integer"}) == 3 and input_value("Sam") == "Sam"
    with pytest.raises(CliError, match="no packages"):
        load_plan("project: {name: x}\n", Path("."), env={})
    with pytest.raises(CliError, match="runtime"):
        load_plan("packages:\n  p:\n    actions:\n      a: {function: a.js}\n", EXAMPLES, env={})
    with pytest.raises(CliError, match="not valid YAML"):
        load_plan("packages: [\n", Path("."), env={})
