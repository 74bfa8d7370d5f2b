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
