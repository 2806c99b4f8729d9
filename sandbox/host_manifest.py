"""Strict loading of a Stash plugin manifest (`<id>.yml`), the way Stash does it.

Stash decodes manifests with gopkg.in/yaml.v2 in strict mode into Go structs: an unknown key at any level,
a duplicate key, or a value of the wrong shape makes the whole plugin fail to load. We reproduce that by
walking PyYAML's node tree (not constructed Python objects) against a schema, because only the node tree
still has duplicate keys and the raw scalar text (yaml.v2 stores any scalar into a string field verbatim,
so `version: 1.0` is the string "1.0").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

INTERFACES = ("raw", "rpc", "js")
SETTING_TYPES = ("STRING", "NUMBER", "BOOLEAN")
ERR_LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "none")


class ManifestError(Exception):
    """The manifest cannot be loaded; the message mimics yaml.v2 / Stash's wording."""


# --- schema: "str" = any scalar as raw text, "list[str]", "map[str]" (map of scalars),
#     ("list", schema), ("map", schema), dict = struct with exactly these keys.
_OPERATION = {"name": "str", "description": "str", "defaultArgs": "map[str]", "execArgs": "list[str]"}
_HOOK = dict(_OPERATION, triggeredBy="list[str]")
_SETTING = {"displayName": "str", "description": "str", "type": "str"}
_UI = {
    "javascript": "list[str]",
    "css": "list[str]",
    "requires": "list[str]",
    "assets": "map[str]",
    "csp": {"script-src": "list[str]", "style-src": "list[str]", "connect-src": "list[str]"},
}
_CONFIG = {
    "name": "str",
    "description": "str",
    "version": "str",
    "url": "str",
    "exec": "list[str]",
    "interface": "str",
    "errLog": "str",
    "tasks": ("list", _OPERATION),
    "hooks": ("list", _HOOK),
    "settings": ("map", _SETTING),
    "ui": _UI,
}
_TYPE_NAMES = {id(_CONFIG): "plugin.Config", id(_OPERATION): "plugin.OperationConfig",
               id(_HOOK): "plugin.HookConfig", id(_SETTING): "plugin.SettingConfig",
               id(_UI): "plugin.UIConfig", id(_UI["csp"]): "plugin.PluginCSP"}


@dataclass
class OperationConfig:
    name: str
    description: str = ""
    default_args: dict[str, str] = field(default_factory=dict)
    exec_args: list[str] = field(default_factory=list)


@dataclass
class HookConfig(OperationConfig):
    triggered_by: list[str] = field(default_factory=list)


@dataclass
class SettingConfig:
    display_name: str = ""
    description: str = ""
    type: str = "STRING"


@dataclass
class PluginConfig:
    id: str
    path: str                      # the .yml file
    name: str
    description: str | None = None
    version: str | None = None
    url: str | None = None
    exec: list[str] = field(default_factory=list)
    interface: str = "raw"
    err_log: str = ""
    tasks: list[OperationConfig] = field(default_factory=list)
    hooks: list[HookConfig] = field(default_factory=list)
    settings: dict[str, SettingConfig] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)

    @property
    def plugin_dir(self) -> str:
        return os.path.dirname(self.path)

    @property
    def err_log_level(self) -> str:
        """Level for un-prefixed stderr lines: unknown or empty means error (stash pkg/plugin/log.go)."""
        return self.err_log if self.err_log in ERR_LOG_LEVELS else "error"

    def task(self, name: str) -> OperationConfig | None:
        return next((t for t in self.tasks if t.name == name), None)

    def hooks_for(self, trigger: str) -> list[HookConfig]:
        return [h for h in self.hooks if trigger in h.triggered_by]


# --- node decoding -------------------------------------------------------------------------------------

def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _mapping_pairs(node: yaml.MappingNode, errors: list[str]) -> list[tuple[yaml.Node, yaml.Node]]:
    """Key/value pairs with YAML merge keys (`<<`) expanded, as yaml.v2 supports them."""
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge":
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for src in sources:
                if isinstance(src, yaml.MappingNode):
                    pairs.extend(_mapping_pairs(src, errors))
                else:
                    errors.append(f"line {_line(src)}: map merge requires map or sequence of maps as the value")
        else:
            pairs.append((key, value))
    return pairs


def _key_text(key: yaml.Node) -> str | None:
    return key.value if isinstance(key, yaml.ScalarNode) else None


def _type_error(node: yaml.Node, want: str, errors: list[str]) -> None:
    kind = node.tag.rsplit(":", 1)[-1]
    errors.append(f"line {_line(node)}: cannot unmarshal !!{kind} `{_short(node)}` into {want}")


def _short(node: yaml.Node) -> str:
    return str(node.value)[:30] if isinstance(node, yaml.ScalarNode) else "..."


def _decode(node: yaml.Node, schema: Any, errors: list[str]) -> Any:
    """Decode one node against the schema; collect every error like yaml.v2's unmarshal errors list."""
    if _is_null(node):
        return None
    if schema == "str":
        if isinstance(node, yaml.ScalarNode):
            return node.value          # raw text, like yaml.v2 into a Go string
        _type_error(node, "string", errors)
        return None
    if schema == "list[str]":
        return _decode(node, ("list", "str"), errors)
    if schema == "map[str]":
        return _decode(node, ("map", "str"), errors)
    if isinstance(schema, tuple) and schema[0] == "list":
        if not isinstance(node, yaml.SequenceNode):
            _type_error(node, "[]" + _schema_name(schema[1]), errors)
            return None
        return [_decode(item, schema[1], errors) for item in node.value]
    if isinstance(schema, tuple) and schema[0] == "map":
        return _decode_map(node, schema[1], errors)
    return _decode_struct(node, schema, errors)


def _schema_name(schema: Any) -> str:
    return _TYPE_NAMES.get(id(schema), "string") if isinstance(schema, dict) else "string"


def _decode_map(node: yaml.Node, value_schema: Any, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        _type_error(node, "map[string]" + _schema_name(value_schema), errors)
        return None
    out: dict[str, Any] = {}
    for key, value in _mapping_pairs(node, errors):
        name = _key_text(key)
        if name is None:
            _type_error(key, "string", errors)
            continue
        if name in out:
            errors.append(f'line {_line(key)}: key "{name}" already set in map')
            continue
        decoded = _decode(value, value_schema, errors)
        out[name] = "" if decoded is None and value_schema == "str" else decoded
    return out


def _decode_struct(node: yaml.Node, fields: dict[str, Any], errors: list[str]) -> dict[str, Any] | None:
    type_name = _TYPE_NAMES.get(id(fields), "struct")
    if not isinstance(node, yaml.MappingNode):
        _type_error(node, type_name, errors)
        return None
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in _mapping_pairs(node, errors):
        name = _key_text(key)
        if name in seen:
            errors.append(f'line {_line(key)}: key "{name}" already set in map')
            continue
        if name is not None:
            seen.add(name)
        if name not in fields:
            errors.append(f"line {_line(key)}: field {name} not found in type {type_name}")
            continue
        out[name] = _decode(value, fields[name], errors)
    return out


class _StrictComposer(yaml.SafeLoader):
    """SafeLoader used only to compose nodes (duplicate keys survive in the node tree)."""


def decode_manifest_text(text: str) -> dict[str, Any]:
    """Strictly decode manifest text into a plain dict; raise ManifestError like yaml.v2 strict mode."""
    try:
        root = yaml.compose(text, Loader=_StrictComposer)
    except yaml.YAMLError as exc:
        raise ManifestError(f"yaml: {exc}".replace("\n", " ")) from None
    if root is None:
        return {}
    errors: list[str] = []
    decoded = _decode(root, _CONFIG, errors)
    if errors:
        raise ManifestError("yaml: unmarshal errors:\n  " + "\n  ".join(errors))
    return decoded or {}


def _operation(raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    return {"name": raw.get("name") or "", "description": raw.get("description") or "",
            "default_args": dict(raw.get("defaultArgs") or {}), "exec_args": list(raw.get("execArgs") or [])}


def load_manifest(path: str) -> PluginConfig:
    """Load and validate one manifest file; the id is the file's basename without `.yml`."""
    with open(path, encoding="utf-8") as fh:
        raw = decode_manifest_text(fh.read())
    plugin_id = os.path.splitext(os.path.basename(path))[0]
    interface = raw.get("interface") or "raw"
    if interface not in INTERFACES:   # valid(): only the interface and setting types are checked
        raise ManifestError(f"invalid interface type: {interface}")
    settings: dict[str, SettingConfig] = {}
    for key, value in (raw.get("settings") or {}).items():
        value = value or {}
        stype = value.get("type") or "STRING"
        if stype not in SETTING_TYPES:
            raise ManifestError(f"invalid setting type {stype} for setting {key}")
        settings[key] = SettingConfig(value.get("displayName") or "", value.get("description") or "", stype)
    hooks = []
    for h in raw.get("hooks") or []:
        h = h or {}
        hooks.append(HookConfig(**_operation(h), triggered_by=list(h.get("triggeredBy") or [])))
    return PluginConfig(
        id=plugin_id,
        path=os.path.abspath(path),
        name=raw.get("name") or plugin_id,
        description=raw.get("description"),
        version=raw.get("version"),
        url=raw.get("url"),
        exec=list(raw.get("exec") or []),
        interface=interface,
        err_log=raw.get("errLog") or "",
        tasks=[OperationConfig(**_operation(t)) for t in raw.get("tasks") or []],
        hooks=hooks,
        settings=dict(sorted(settings.items())),   # the UI lists settings sorted by key
        ui=raw.get("ui") or {},
    )


def find_manifests(plugins_dir: str) -> list[str]:
    """Every `*.yml` (extension exactly `.yml`) under plugins_dir, recursively, following symlinks, in Go's
    filepath-walk order (entries sorted, directories descended where they sort); cycles visited once."""
    found: list[str] = []
    seen_dirs: set[str] = set()

    def walk(directory: str) -> None:
        real = os.path.realpath(directory)
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                walk(path)
            elif os.path.splitext(name)[1] == ".yml" and os.path.isfile(path):
                found.append(path)

    walk(plugins_dir)
    return found
