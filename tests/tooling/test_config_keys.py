"""`--set` reads keys, paths and values as `pulumi config set --path` does.

The cases are the Pulumi CLI's own (github.com/pulumi/pulumi): TestPropertyPath and
TestParsePropertyPathStrictAcceptsBareSpecialChars (sdk/go/common/resource/properties_path_test.go),
TestSetSuccess, TestSetFail and TestRemoveSuccess (sdk/go/common/resource/config/map_test.go),
with the namespace rules of parseConfigKey (pkg/cmd/pulumi/config/io.go) and config.ParseKey
(sdk/go/common/resource/config/key.go).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from erdr.config_keys import (
    ConfigKey,
    ConfigKeyError,
    coerce,
    format_path,
    parse_config_key,
    parse_key,
    parse_property_path,
    parse_value,
    remove_path,
    set_path,
    split_pair,
)
from erdr.stackfiles import load_stack


@pytest.mark.parametrize(
    ("text", "parsed", "printed"),
    [
        ("root", ("root",), "root"),
        ("root.nested", ("root", "nested"), "root.nested"),
        ('root["nested"]', ("root", "nested"), "root.nested"),
        ('root["double"]["nest"]', ("root", "double", "nest"), "root.double.nest"),
        ("root.array[1]", ("root", "array", 1), "root.array[1]"),
        ("root.array2[0][1].nested", ("root", "array2", 0, 1, "nested"), "root.array2[0][1].nested"),
        ('root["key with \\"escaped\\" quotes"]', ("root", 'key with "escaped" quotes'), None),
        ('root["key with a ."]', ("root", "key with a ."), 'root["key with a ."]'),
        ('["root key with a ."][1]', ("root key with a .", 1), '["root key with a ."][1]'),
        ("root.foo-bar[0]", ("root", "foo-bar", 0), 'root["foo-bar"][0]'),
        ("name[3][0]nested", ("name", 3, 0, "nested"), "name[3][0].nested"),
    ],
)
def test_property_paths_as_the_cli_parses_them(text: str, parsed: tuple[Any, ...], printed: str | None) -> None:
    assert parse_property_path(text) == parsed
    if printed is not None:
        assert format_path(parsed) == printed
        assert parse_property_path(printed) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root[", "missing closing bracket in array index"),
        ('root["nested]', "missing closing quote in property name"),
        ("root.array[abc]", "invalid array index"),
        ('[""]', "config key is empty"),
        ("[0]", "first path segment of config key must be a string"),
        ("root.[1]", "expected property name after '.'"),  # strict: the loose parser takes it
        ("root.", "expected property path to end with a name or index"),
        (".root", "expected property path to start with a name or index"),
    ],
)
def test_property_path_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigKeyError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_property_path(text)


def test_namespaces_as_the_cli_reads_them() -> None:
    project = "expressroute-dr"
    assert parse_config_key("routingWeights.preferred", project) == ConfigKey(project, ("routingWeights", "preferred"))
    assert parse_config_key("expressroute-dr:layout.hub", project) == ConfigKey(project, ("layout", "hub"))
    assert parse_config_key("azure-native:location", project) == ConfigKey("azure-native", ("location",))
    # With --path the namespace belongs to the first segment only: a ':' further on is part of a name.
    assert parse_config_key('tags["a:b"]', project) == ConfigKey(project, ("tags", "a:b"))
    assert parse_key("expressroute-dr:config:phase") == ("expressroute-dr", "phase")  # the old form
    with pytest.raises(ConfigKeyError, match="should be of the form `<namespace>:<name>`"):
        parse_key("a:b:c")


def test_split_pair_as_set_all() -> None:
    assert split_pair("a.b=c=d") == ("a.b", "c=d")
    assert split_pair('"a=b"=c') == ("a=b", "c")
    assert split_pair("a=") == ("a", "")
    for bad in ("topology", "=value"):
        with pytest.raises(ConfigKeyError, match=r"in the form \[key\]=\[value\]"):
            split_pair(bad)


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("true", True),
        ("false", False),
        ("10", 10),
        ("0", 0),
        ("-1", -1),
        ("00", "00"),
        ("01", "01"),
        ("0123456", "0123456"),
        ("1.5", "1.5"),
        ("yes", "yes"),
        ("10.1.0.0/24", "10.1.0.0/24"),
    ],
)
def test_values_below_the_top_level_are_typed_as_the_cli_types_them(text: str, typed: object) -> None:
    assert coerce(text) == typed and type(coerce(text)) is type(typed)
    assert parse_value(text, top_level=False) == typed
    assert parse_value(text, top_level=True) == text  # "Top level entries are always treated as strings."


def test_json_values_and_null() -> None:
    assert parse_value('{"a": [1, "x"]}', top_level=True) == {"a": [1, "x"]}
    assert parse_value("[10.1.0.0/24, 10.2.0.0/24]", top_level=False) == ["10.1.0.0/24", "10.2.0.0/24"]
    assert parse_value("null", top_level=True) is None
    with pytest.raises(ConfigKeyError, match="not valid JSON"):
        parse_value('{"a": ', top_level=True)


def _set(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    set_path(config, parse_config_key(key, "my").path, value)
    return config


@pytest.mark.parametrize(
    ("key", "value", "before", "after"),
    [
        ("outer.inner", "value", {}, {"outer": {"inner": "value"}}),
        ("outer.inner", "value", {"outer": "value"}, {"outer": {"inner": "value"}}),  # first level replaced
        ("outer.inner", "value", {"outer": {"existing": "x"}}, {"outer": {"existing": "x", "inner": "value"}}),
        ("outer.inner", "value", {"outer": '{"existing": "x"}'}, {"outer": {"existing": "x", "inner": "value"}}),
        ("outer.inner.nested", "value", {}, {"outer": {"inner": {"nested": "value"}}}),
        ('nested["test.Key"]', "value", {}, {"nested": {"test.Key": "value"}}),
        ("name[0]", "value", {}, {"name": ["value"]}),
        ("name[0][0]", "value", {}, {"name": [["value"]]}),
        ("array[0]", "value", {"array": "value"}, {"array": ["value"]}),
        ("name[1]", "value", {"name": ["a", "b", "c"]}, {"name": ["a", "value", "c"]}),
        ("name[3]", "value", {"name": ["a", "b", "c"]}, {"name": ["a", "b", "c", "value"]}),
        ("name[3].foo.bar", "value", {"name": ["a"] * 3}, {"name": ["a", "a", "a", {"foo": {"bar": "value"}}]}),
        (
            "servers[0].host",
            "example",
            {"servers": [{"name": "foo"}]},
            {"servers": [{"name": "foo", "host": "example"}]},
        ),
        ("key.secure", "value", {"key": {"bar": "baz"}}, {"key": {"bar": "baz", "secure": "value"}}),
    ],
)
def test_set_as_the_cli_sets(key: str, value: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert _set(json.loads(json.dumps(before)), key, value) == after


@pytest.mark.parametrize(
    ("key", "before", "message"),
    [
        ("name[-1]", {}, "name[-1]: array index out of range"),
        ("name[4]", {"name": ["a", "b", "c"]}, "name[4]: array index out of range"),
        ("key.secure", {}, 'maps with the single key "secure" are reserved'),
        ("super.nested.map.secure", {}, 'maps with the single key "secure" are reserved'),
        ("outer.inner", {"outer": [1, 2, 3]}, "outer.inner: key for an array must be an int"),
        ("array[0]", {"array": {"inner": "value"}}, r"array\[0\]: key for a map must be a string"),
        ("outer.inner.nested", {"outer": {"inner": "value"}}, "outer.inner: expected a map"),
        ("outer.inner[0]", {"outer": {"inner": "value"}}, "outer.inner: expected an array"),
    ],
)
def test_set_fails_where_the_cli_fails(key: str, before: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigKeyError, match=message.replace("[-1]", r"\[-1\]").replace("[4]", r"\[4\]")):
        _set(before, key, "value")


@pytest.mark.parametrize(
    ("key", "before", "after"),
    [
        ("outer", {"outer": {"inner": "value"}}, {}),
        ("outer.inner", {"outer": {"inner": "value"}}, {"outer": {}}),
        ("names[1]", {"names": ["a", "b", "c"]}, {"names": ["a", "c"]}),
        ("names[3]", {"names": ["a", "b", "c"]}, {"names": ["a", "b", "c"]}),
        ("outer[0].nested", {"outer": [{"nested": "value"}]}, {"outer": [{}]}),
        ("missing.key", {"other": 1}, {"other": 1}),
    ],
)
def test_remove_as_config_rm_path(key: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    config = json.loads(json.dumps(before))
    remove_path(config, parse_config_key(key, "my").path)
    assert config == after


def test_overrides_reach_the_merged_stack_config_and_unset_with_none() -> None:
    settings = load_stack(
        "dr",
        overrides={
            "circuits.secondary": None,
            "recoveryPlan.bootGroups[0].items[0]": "/x",
            "azure-native:location": "southeastasia",
            "tags.owner": "netops",
        },
    )
    assert "secondary" not in settings.config["circuits"]
    assert settings.config["recoveryPlan"] == {"bootGroups": [{"items": ["/x"]}]}
    assert settings.config["azure-native:location"] == "southeastasia"
    assert settings.config["tags"] == {"owner": "netops"}
    assert settings.engine_config()["azure-native:location"] == "southeastasia"


# --- where --set lands: the stack file, merged with Pulumi.yaml as the CLI merges ------------------
#
# pulumi/pulumi pkg/cmd/pulumi/config/config.go (configSetCmd.Run: ps.Config.Set on the stack file,
# then SaveProjectStack) and its tests TestConfigSet, TestConfigSetTypes, TestConfigPathOperations;
# pkg/workspace/config.go (mergeConfig) and its tests TestStackConfigIsInheritedFromProjectConfig,
# TestUntypedProjectConfigObjectValuesPassedDownToStack.

from erdr.config_keys import config_rm, config_set, merge_project  # noqa: E402
from erdr.stackfiles import STACK_FILE, Override  # noqa: E402


def _cli(key: str, value: Any) -> Override:
    return Override(parse_config_key(key, "expressroute-dr"), value, f"{key}={value}", STACK_FILE)


@pytest.mark.parametrize(
    ("key", "text", "stored"),
    [
        ("test", "true", "true"),  # "toplevel bool": config:\n  testProject:test: "true"
        ("test", "123", "123"),  # "toplevel int"
        ("test", "123.456", "123.456"),  # "toplevel float"
        ("test[0]", "true", [True]),  # "path'd bool": - true
        ("test[0]", "123", [123]),  # "path'd int": - 123
        ("test[0]", "123.456", ["123.456"]),  # "path'd float": - "123.456"
    ],
)
def test_config_set_writes_what_the_cli_writes(key: str, text: str, stored: Any) -> None:
    """TestConfigSet: an empty stack file after one `pulumi config set [--path]`."""
    stack: dict[str, Any] = {}
    path = parse_config_key(key, "testProject").path
    assert config_set(stack, {}, path, parse_value(text, top_level=len(path) == 1), where="w") is None
    assert stack == {"test": stored}


def test_config_path_operations_in_sequence() -> None:
    """TestConfigPathOperations' first group: top-level values (one of them a secret) overwritten by
    path sets, each becoming the object or array the CLI stores."""
    stack: dict[str, Any] = {}
    steps = [
        ("aConfigValue", "this value is a value", "aConfigValue", "this value is a value"),
        ("anotherConfigValue", "this value is another value", "anotherConfigValue", "this value is another value"),
        ("aConfigValue.inner", "new value", "aConfigValue", {"inner": "new value"}),
        ("anotherConfigValue[0]", "new value", "anotherConfigValue", ["new value"]),
        ("names[0]", "a", "names", ["a"]),
        ("names[1]", "b", "names", ["a", "b"]),
        ('nested["test.Key"]', "nested test key value", "nested", {"test.Key": "nested test key value"}),
    ]
    for key, text, top, expected in steps:
        path = parse_config_key(key, "testProject").path
        config_set(stack, {}, path, parse_value(text, top_level=len(path) == 1), where="w")
        assert stack[top] == expected, key
    for bad in ("outer[0]", "names[5]", "names.nested"):
        stack["outer"] = {"inner": "value"}
        with pytest.raises(ConfigKeyError):
            config_set(stack, {}, parse_config_key(bad, "testProject").path, "v", where="w")


def test_project_values_reach_a_stack_only_where_it_sets_nothing() -> None:
    """mergeConfig: a project value applies to a key the stack lacks; a stack value replaces it whole
    (TestStackConfigIsInheritedFromProjectConfig, TestUntypedProjectConfigObjectValuesPassedDownToStack)."""
    project = {"regions": {"source": "eastasia", "target": "southeastasia"}, "layout": {"hub": {"name": "hub"}}}
    assert merge_project({}, project) == project
    merged = merge_project({"regions": {"target": "japaneast"}}, project)
    assert merged["regions"] == {"target": "japaneast"} and merged["layout"] == project["layout"]


def test_set_on_a_project_key_replaces_the_whole_value_with_a_warning() -> None:
    stack: dict[str, Any] = {}
    project = {"circuits": {"primary": {"id": "/x", "bandwidthMbps": 1000}, "secondary": {"id": "/y"}}}
    warning = config_set(stack, project, ("circuits", "primary", "bandwidthMbps"), 2000, where="stack 'dr'")
    assert stack == {"circuits": {"primary": {"bandwidthMbps": 2000}}}
    assert merge_project(stack, project)["circuits"] == {"primary": {"bandwidthMbps": 2000}}
    assert warning is not None and "stack 'dr': circuits.primary.bandwidthMbps" in warning
    assert "replaces Pulumi.yaml's whole value and circuits (its secondary) no longer apply" in warning
    # Control: once the stack file holds the key, a second path set merges into it, silently.
    assert config_set(stack, project, ("circuits", "primary", "id"), "/z", where="w") is None
    assert stack == {"circuits": {"primary": {"bandwidthMbps": 2000, "id": "/z"}}}
    # A key Pulumi.yaml does not declare, and a whole-key set, replace nothing unexpected.
    assert config_set({}, project, ("drill", "enabled"), False, where="w") is None
    assert config_set({}, project, ("circuits",), {"primary": {"id": "/x"}}, where="w") is None


def test_rm_removes_from_the_stack_file_only() -> None:
    project = {"circuits": {"primary": {"id": "/x"}, "secondary": {"id": "/y"}}}
    stack: dict[str, Any] = {}
    warning = config_rm(stack, project, ("circuits", "secondary"), where="w")
    assert stack == {} and merge_project(stack, project)["circuits"]["secondary"] == {"id": "/y"}
    assert warning is not None and "removes nothing and Pulumi.yaml's circuits still applies" in warning
    stack = {"targetAddressPlan": {"hub": ["10.20.10.0/24"]}}
    assert config_rm(stack, project, ("targetAddressPlan",), where="w") is None and stack == {}


def test_set_through_load_stack_is_the_cli_and_override_the_merged_edit() -> None:
    cli = load_stack("dr", overrides=[_cli("circuits.secondary.bandwidthMbps", 2000)])
    assert cli.config["circuits"] == {"secondary": {"bandwidthMbps": 2000}}
    assert len(cli.warnings) == 1 and "Pulumi.dr.yaml" in cli.warnings[0]
    merged = load_stack("dr", overrides={"circuits.secondary.bandwidthMbps": 2000})
    assert merged.config["circuits"]["secondary"]["bandwidthMbps"] == 2000
    assert merged.config["circuits"]["primary"]["peeringLocation"] == "Hong Kong" and merged.warnings == []
    # A stack key: both mean the same, and nothing is wiped.
    assert load_stack("dr", overrides=[_cli("drill.enabled", False)]).warnings == []
