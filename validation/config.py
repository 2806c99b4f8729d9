"""PlexSync settings: every key, its type, default and the text Stash shows for it.

Stash stores plugin settings without defaults (unset keys are absent), so the defaults live here.
`PlexSync.yml` must declare exactly these keys; a test keeps the two in step.
Bad values never stop the plugin: each becomes one clear problem line naming the setting, and the
default is used. Only a missing Plex URL or token stops syncing.
"""
from __future__ import annotations

import math
import urllib.parse
from typing import Any

# Stash's settings page labels these "Settings -> Plugins -> PlexSync".
WHERE_TO_SET = "Stash Settings -> Plugins -> PlexSync"


class Spec:
    """One manifest setting: its Stash type, the value it has when unset, and the text Stash shows.

    `attribute` names the Settings attribute it fills when that differs from the key; `inverted` switches
    read the other way round there ("Pause sync" on = Settings.enabled False), so every switch on Stash's
    page can default to off while the code keeps reading positively."""

    __slots__ = ("type", "default", "display_name", "description", "minimum", "maximum", "secret", "attribute",
                 "inverted")

    def __init__(self, type: str, default: Any, display_name: str, description: str,  # noqa: A002 - Stash's word
                 minimum: float | None = None, maximum: float | None = None, secret: bool = False,
                 attribute: str | None = None, inverted: bool = False) -> None:
        self.type = type  # BOOLEAN | NUMBER | STRING, as Stash's manifest spells them
        self.default = default
        self.display_name = display_name
        self.description = description
        self.minimum = minimum
        self.maximum = maximum
        self.secret = secret
        self.attribute = attribute
        self.inverted = inverted


def _skip(field_name: str, shown: str, what: str) -> Spec:
    """A per-field switch: off (the default) syncs the field, on leaves Plex's value alone."""
    return Spec("BOOLEAN", False, f"Skip {shown}", f"On: PlexSync leaves {what} as it is in Plex. Off: {what} "
                                                    f"follows Stash.", attribute=f"sync_{field_name}", inverted=True)


# Stash's settings page shows an unset BOOLEAN as off and an unset NUMBER as 0, and stores nothing until the
# user changes a value (SettingsPluginsPanel.tsx). So every BOOLEAN here defaults to off, and 0 or empty
# means "the default" for every NUMBER and STRING: the page always shows what PlexSync does.
SPECS: dict[str, Spec] = {
    "plex_url": Spec("STRING", "", "Plex server URL",
                     "Address of Plex Media Server as seen from the Stash machine or container, "
                     "e.g. http://192.168.1.10:32400 (not localhost if Stash runs in Docker)."),
    "plex_token": Spec("STRING", "", "Plex token",
                       "Your X-Plex-Token (Plex Web: any item -> Get Info -> View XML, the token is at the "
                       "end of the address). Never shown in logs.", secret=True),
    "plex_libraries": Spec("STRING", "", "Plex libraries",
                           "Comma-separated Plex library names to sync into. Empty: every movie library."),
    "path_map": Spec("STRING", "", "Path map (Stash => Plex)",
                     "Rewrites file path prefixes when Stash and Plex see the files under different paths, "
                     "e.g. /data/=>/media/; several pairs separated by ';'. Empty: the same paths."),
    "pause_sync": Spec("BOOLEAN", False, "Pause sync",
                       "On: scene saves are not recorded and nothing is sent to Plex. Off: PlexSync syncs.",
                       attribute="enabled", inverted=True),
    "allow_uncertain_matches": Spec("BOOLEAN", False, "Allow uncertain matches",
                                    "On: a scene with an uncertain (LOW confidence) Plex match is synced to the "
                                    "best candidate and the choice is logged. Off: it is not synced but logged "
                                    "for review.", attribute="strict_matching", inverted=True),
    "preserve_plex_edits": Spec("BOOLEAN", False, "Preserve Plex edits",
                                "On: only fill fields that are empty in Plex. Off: Stash always wins."),
    "skip_title": _skip("title", "title", "the title (Stash's title, or the file name when empty)"),
    "skip_details": _skip("details", "details", "the summary (Stash's details)"),
    "skip_date": _skip("date", "date", "the release date and year (Stash's date)"),
    "skip_studio": _skip("studio", "studio", "the studio"),
    "skip_code": _skip("code", "studio code", "the tagline (Stash's studio code)"),
    "skip_director": _skip("director", "director", "the directors (Stash's director)"),
    "skip_performers": _skip("performers", "performers", "the actors (Stash's performers)"),
    "skip_tags": _skip("tags", "tags", "the genres (Stash's tags)"),
    "skip_rating": _skip("rating", "rating", "the user rating (Stash's rating)"),
    "skip_cover": _skip("cover", "cover", "the poster (Stash's cover)"),
    "collections_from_studio": Spec("BOOLEAN", False, "Studio as collection",
                                    "Also put each item in a Plex collection named after its studio."),
    "collections_from_groups": Spec("BOOLEAN", False, "Groups as collections",
                                    "Also put each item in Plex collections named after its Stash groups."),
    "collections_from_parent_studios": Spec("BOOLEAN", False, "Parent studios as collections",
        "Also put each item in a collection for every parent studio above its studio (the whole chain, e.g. the network and its label)."),
    "collections_from_performers": Spec("BOOLEAN", False, "Performers as collections",
        "Also put each item in a collection per performer who has at least the minimum number of scenes below."),
    "collection_performer_min_scenes": Spec("NUMBER", 3, "Performer collection: minimum scenes",
        "A performer gets a collection only with at least this many scenes in Stash, so one-off names do not make hundreds of collections. 1-100000; 0 or empty: 3.", minimum=1, maximum=100000),
    "collections_from_tags": Spec("STRING", '', "Tags as collections",
        "Comma-separated Stash tag names that each become a collection of the scenes carrying them. Empty: none."),
    "collection_organized": Spec("BOOLEAN", False, "Organized collection",
        "Also put every scene marked Organized in Stash into a collection named Organized."),
    "collection_prefix_studio": Spec("STRING", '', "Studio collection prefix",
        "Text before studio and parent studio collection names, e.g. 'Studio:' gives 'Studio: Blue Harbor'. Empty: no prefix."),
    "collection_prefix_group": Spec("STRING", '', "Group collection prefix",
        "Text before group collection names, e.g. 'Group:'. Empty: no prefix."),
    "collection_prefix_performer": Spec("STRING", '', "Performer collection prefix",
        "Text before performer collection names, e.g. 'Performer:'. Empty: no prefix."),
    "collection_prefix_tag": Spec("STRING", '', "Tag collection prefix",
        "Text before tag collection names, e.g. 'Tag:'. Empty: no prefix."),
    "poster_mode": Spec("STRING", "", "Poster mode",
        "How the 16:9 cover becomes Plex's 2:3 poster: as-is (the cover unchanged), crop (a 2:3 cut around the part with the most detail) or blur (the whole cover over a blurred fill). Empty: as-is."),
    "sync_background_art": Spec("BOOLEAN", False, "Cover as background",
        "Also upload the full 16:9 cover as the item's background art (locked), only when it changed."),
    "performer_photos_stash_url": Spec("STRING", "", "Performer photos: Stash address for Plex",
        "Stash's address as the Plex server reaches it, e.g. http://192.168.1.5:9999. When set, each performer's Stash image becomes the Plex actor's photo (Plex fetches it from there, so Stash must serve images without a login). Empty: no performer photos."),
    "max_retries": Spec("NUMBER", 5, "Retries",
                        "How many times a scene that keeps failing (a Plex error, a scene with no file) is "
                        "retried before it becomes a dead letter. A Plex outage is retried until Plex answers; a "
                        "file Plex has not scanned yet is looked for over about 30 minutes. 1-50; 0 or empty: 5.",
                        minimum=1, maximum=50),
    "drain_slice_seconds": Spec("NUMBER", 120.0, "Work slice (seconds)",
                                "How long one Process queue run works before it yields Stash's job queue to "
                                "other tasks and queues itself again. 10-3600; 0 or empty: 120.",
                                minimum=10, maximum=3600),
    "catch_up_minutes": Spec("NUMBER", 60, "Catch-up interval (minutes)",
                             "Changes that fire no hook (Auto Tag) are picked up by the first Process queue run "
                             "this many minutes after the last look, and after Stash's own jobs end. "
                             "0 or empty: 60 (the default); -1: never. Up to 10080 (a week).",
                             minimum=-1, maximum=10080),
    "parallel_edits": Spec("NUMBER", 6, "Edits in flight",
                           "How many scenes are written to Plex at once (each keeps a request in flight, so a slow "
                           "or remote Plex stays busy). Edits of one scene always go one after the other, in "
                           "order. 1-16; 0 or empty: 6.", minimum=1, maximum=16),
    "connect_timeout": Spec("NUMBER", 5.0, "Connect timeout (seconds)",
                            "How long to wait for a connection to Plex or Stash. 1-120; 0 or empty: 5.",
                            minimum=1, maximum=120),
    "read_timeout": Spec("NUMBER", 30.0, "Read timeout (seconds)",
                         "How long to wait for Plex or Stash to answer. 1-600; 0 or empty: 30.",
                         minimum=1, maximum=600),
    "dry_run": Spec("BOOLEAN", False, "Dry run", "Log what would change in Plex and write nothing."),
    "debug_logging": Spec("BOOLEAN", False, "Debug logging",
                          "Log one debug line per step (set Stash's log level to Debug to see them)."),
    "verify_stash_tls": Spec("BOOLEAN", False, "Verify Stash certificate",
                             "Check Stash's HTTPS certificate when it serves TLS (off by default: self-signed "
                             "certificates are common and PlexSync only talks to the Stash that started it)."),
    # Issue 13: titles, tags, scope, links both ways. Empty / off keeps today's behaviour.
    "title_template": Spec("STRING", "", "Title template",
                           "Plex title built from the scene, e.g. {performers} - {title} ({date}). Placeholders: "
                           "{title} (the file name when the scene has none), {studio}, {parent_studio}, {date}, "
                           "{year}, {code}, {performers}, {first_performer}, {group}, {scene_index}. Empty "
                           "placeholders vanish with their separator or brackets. Empty: {title}."),
    "sort_title_template": Spec("STRING", "", "Sort title template",
                                "Plex sort title, same placeholders as the title template, e.g. {date} {title} to "
                                "sort by date or {first_performer} {title} by performer. Empty: the title."),
    "content_rating": Spec("STRING", "", "Content rating",
                           "Written (locked) as every synced item's Plex content rating, e.g. XXX, which Plex "
                           "managed users' restrictions filter on. Empty: Plex's content rating is left alone."),
    "tag_destination": Spec("STRING", "", "Tags go to",
                            "Where scene tags go in Plex: genres, labels (what smart collections and managed-user "
                            "restrictions filter on) or both. Empty: genres. The other field is left alone."),
    "exclude_tags": Spec("STRING", "", "Excluded tags",
                         "Comma-separated tag names that never reach Plex, e.g. To review, Favourite. Empty: none."),
    "exclude_tags_under": Spec("STRING", "", "Excluded parent tags",
                               "Comma-separated parent tag names: each one and every tag below it in Stash's tag "
                               "hierarchy (children, grandchildren...) never reach Plex, e.g. Workflow. Empty: none."),
    "only_organized": Spec("BOOLEAN", False, "Only organized scenes",
                           "On: only scenes marked Organized are synced; the Plex items of other scenes are left "
                           "as they are. A scene is synced when it is marked Organized."),
    "only_with_stash_id": Spec("BOOLEAN", False, "Only scenes with a StashID",
                               "On: only scenes with at least one StashID (matched on a stash-box) are synced."),
    "only_with_tags": Spec("STRING", "", "Only scenes with tags",
                           "Comma-separated tag names: only scenes with at least one of them are synced. "
                           "Empty: no such limit."),
    "skip_scenes_with_tags": Spec("STRING", "", "Skip scenes with tags",
                                  "Comma-separated tag names: scenes with any of them are not synced (their Plex "
                                  "items are left as they are). Empty: none skipped."),
    "link_plex_in_stash": Spec("BOOLEAN", False, "Add Plex link to Stash scenes",
                               "On: after a sure match, the item's Plex Web address is added to the scene's URLs "
                               "in Stash (your own URLs are kept). It also pins the match across file renames."),
    "stash_link_in_summary": Spec("BOOLEAN", False, "Stash link in Plex summary",
                                  "On: the Plex summary ends with a line holding the scene's address in Stash "
                                  "(needs details synced)."),
    "stash_url": Spec("STRING", "", "Stash address for links",
                      "Address of Stash as you open it in a browser, used for the link in the Plex summary, e.g. "
                      "http://192.168.1.10:9999. Empty: the address Stash gives the plugin."),
}

FIELD_TOGGLES = ("sync_title", "sync_details", "sync_date", "sync_studio", "sync_code", "sync_director",
                 "sync_performers", "sync_tags", "sync_rating", "sync_cover")


class _Frozen:
    """A small frozen record: annotated class attributes are the fields, their values the defaults.
    (Not a dataclass: importing dataclasses pulls in inspect, which the hook's start-up cannot afford.)"""

    _HIDDEN: frozenset[str] = frozenset()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name in vars(klass).get("__annotations__", {}):
                if not name.startswith("_") and name not in names:
                    names.append(name)
        return tuple(names)

    def __init__(self, **values: Any) -> None:
        names = self.field_names()
        unknown = set(values) - set(names)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        for name in names:
            object.__setattr__(self, name, values[name] if name in values else getattr(type(self), name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.field_names())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.field_names() if name not in self._HIDDEN)
        return f"{type(self).__name__}({shown})"


class Settings(_Frozen):
    """What PlexSync does, read positively (`enabled`, `strict_matching`, `sync_<field>`); the manifest keys
    that fill it are in SPECS."""

    _HIDDEN = frozenset({"plex_token"})

    plex_url: str = ""
    plex_token: str = ""
    plex_libraries: tuple[str, ...] = ()
    path_map: tuple[tuple[str, str], ...] = ()
    enabled: bool = True
    strict_matching: bool = True
    preserve_plex_edits: bool = False
    sync_title: bool = True
    sync_details: bool = True
    sync_date: bool = True
    sync_studio: bool = True
    sync_code: bool = True
    sync_director: bool = True
    sync_performers: bool = True
    sync_tags: bool = True
    sync_rating: bool = True
    sync_cover: bool = True
    collections_from_studio: bool = False
    collections_from_groups: bool = False
    collections_from_parent_studios: bool = False
    collections_from_performers: bool = False
    collection_performer_min_scenes: int = 3
    collections_from_tags: str = ''
    collection_organized: bool = False
    collection_prefix_studio: str = ''
    collection_prefix_group: str = ''
    collection_prefix_performer: str = ''
    collection_prefix_tag: str = ''
    poster_mode: str = ""
    sync_background_art: bool = False
    performer_photos_stash_url: str = ""
    max_retries: int = 5
    drain_slice_seconds: float = 120.0
    catch_up_minutes: int = 60
    parallel_edits: int = 6
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    dry_run: bool = False
    debug_logging: bool = False
    verify_stash_tls: bool = False
    title_template: str = ""
    sort_title_template: str = ""
    content_rating: str = ""
    tag_destination: str = "genres"  # genres | labels | both
    exclude_tags: tuple[str, ...] = ()
    exclude_tags_under: tuple[str, ...] = ()
    only_organized: bool = False
    only_with_stash_id: bool = False
    only_with_tags: tuple[str, ...] = ()
    skip_scenes_with_tags: tuple[str, ...] = ()
    link_plex_in_stash: bool = False
    stash_link_in_summary: bool = False
    stash_url: str = ""

    def field_enabled(self, name: str) -> bool:
        """`name` is a toggle key such as "sync_tags" or its short form "tags"."""
        key = name if name.startswith("sync_") else f"sync_{name}"
        return bool(getattr(self, key, False))

    @property
    def plex_configured(self) -> bool:
        return bool(self.plex_url and self.plex_token)

    def missing_plex_message(self) -> str | None:
        missing = [label for label, value in (("Plex server URL", self.plex_url), ("Plex token", self.plex_token))
                   if not value]
        if not missing:
            return None
        return f"{' and '.join(missing)} not set: set them in {WHERE_TO_SET}; scenes stay queued until then"


class LoadedSettings:
    """Settings plus one problem line per odd value (each already names the setting)."""

    __slots__ = ("settings", "problems")

    def __init__(self, settings: Settings, problems: list[str]) -> None:
        self.settings = settings
        self.problems = problems


def _show(key: str, value: Any) -> str:
    if SPECS[key].secret:
        return "(hidden)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def _as_bool(key: str, value: Any, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.strip().lower() in ("true", "1", "yes", "on")
    problems.append(f"setting {key} = {_show(key, value)} is not true/false; using {SPECS[key].default}")
    return SPECS[key].default


def _as_number(key: str, value: Any, problems: list[str]) -> float:
    spec = SPECS[key]
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        if not value.strip():
            return float(spec.default)  # an emptied field reads as unset
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number == 0:
        return float(spec.default)  # what Stash's page shows for an unset number: means the default
    if number is None or math.isnan(number) or math.isinf(number):
        problems.append(f"setting {key} = {_show(key, value)} is not a number; using {spec.default}")
        return float(spec.default)
    if spec.minimum is not None and number < spec.minimum or spec.maximum is not None and number > spec.maximum:
        problems.append(f"setting {key} = {_show(key, value)} is outside {spec.minimum:g}-{spec.maximum:g}; "
                        f"using {spec.default}")
        return float(spec.default)
    return number


def _as_string(key: str, value: Any, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"setting {key} = {_show(key, value)} is not text; ignoring it")
        return ""
    return value.strip()


def parse_plex_url(value: str, problems: list[str], key: str = "plex_url") -> str:
    if not value:
        return ""
    url = value.rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        problems.append(f"setting {key} = {_show(key, value)} must start with http:// or https:// "
                        f"and name a host, e.g. http://192.168.1.10:32400")
        return ""
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        problems.append(f"setting {key} = {_show(key, value)} has an invalid port")
        return ""
    return url


def parse_path_map(value: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """`stash_prefix=>plex_prefix; ...`; a malformed pair is reported and skipped, the rest kept."""
    pairs: list[tuple[str, str]] = []
    for chunk in value.replace("\n", ";").split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        stash_prefix, sep, plex_prefix = chunk.partition("=>")
        if not sep or not stash_prefix.strip() or not plex_prefix.strip():
            problems.append(f"setting path_map: {chunk[:80]!r} is not 'stash_prefix=>plex_prefix'; skipped")
            continue
        pairs.append((stash_prefix.strip(), plex_prefix.strip()))
    return tuple(pairs)


def load_settings(raw: Any) -> LoadedSettings:
    """Turn Stash's stored settings map (possibly absent or odd) into Settings plus problem lines."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    source = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        problems.append("PlexSync settings are not a map; using defaults")
    for key, spec in SPECS.items():
        if key not in source or source[key] is None:
            continue
        value = source[key]
        if spec.type == "BOOLEAN":
            values[key] = _as_bool(key, value, problems)
        elif spec.type == "NUMBER":
            number = _as_number(key, value, problems)
            values[key] = int(number) if isinstance(spec.default, int) else number
        else:
            values[key] = _as_string(key, value, problems)

    if "plex_url" in values:
        values["plex_url"] = parse_plex_url(values["plex_url"], problems)
    if "plex_libraries" in values:
        values["plex_libraries"] = tuple(p.strip() for p in values["plex_libraries"].split(",") if p.strip())
    if "path_map" in values:
        values["path_map"] = parse_path_map(values["path_map"], problems)
    parse_issue13_settings(values, problems)
    if values.get("performer_photos_stash_url"):
        values["performer_photos_stash_url"] = parse_plex_url(values["performer_photos_stash_url"], problems,
                                                              "performer_photos_stash_url")
    if values.get("poster_mode"):
        mode = values["poster_mode"].lower()
        if mode not in ("as-is", "crop", "blur"):
            problems.append(f"setting poster_mode = {_show('poster_mode', values['poster_mode'])} is not as-is, "
                            f"crop or blur; using as-is")
            mode = ""
        values["poster_mode"] = mode
    return LoadedSettings(Settings(**_as_attributes(values)), problems)


def _as_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """Manifest keys -> Settings attributes; inverted switches ("Pause sync") read positively there."""
    known = set(Settings.field_names())
    attributes: dict[str, Any] = {}
    for key, value in values.items():
        spec = SPECS[key]
        name = spec.attribute or key
        if name in known:
            attributes[name] = (not value) if spec.inverted else value
    return attributes


TAG_DESTINATIONS = ("genres", "labels", "both")
_NAME_LISTS = ("exclude_tags", "exclude_tags_under", "only_with_tags", "skip_scenes_with_tags")


def parse_issue13_settings(values: dict[str, Any], problems: list[str]) -> None:
    """Templates, tag destination, name lists and the Stash address (issue 13), parsed in place.
    The parsers are imported only when their setting is set: every hook process loads settings."""
    for key in ("title_template", "sort_title_template"):
        if not values.get(key):
            continue
        from validation.templates import check_template  # noqa: PLC0415 - standard library only
        problem = check_template(values[key])
        if problem:
            problems.append(f"setting {key}: {problem}; using the default")
            values[key] = ""
    if values.get("tag_destination"):
        wanted = values["tag_destination"].strip().lower()
        if wanted not in TAG_DESTINATIONS:
            problems.append(f"setting tag_destination = {_show('tag_destination', values['tag_destination'])} "
                            f"is not one of {', '.join(TAG_DESTINATIONS)}; using genres")
            wanted = "genres"
        values["tag_destination"] = wanted
    elif "tag_destination" in values:
        values["tag_destination"] = "genres"
    for key in _NAME_LISTS:
        if key in values:
            from validation.tag_filter import parse_names  # noqa: PLC0415
            values[key] = parse_names(values[key])
    if values.get("stash_url"):
        url = values["stash_url"].rstrip("/")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            problems.append(f"setting stash_url = {_show('stash_url', values['stash_url'])} must start with "
                            f"http:// or https:// and name a host; using the address Stash gives the plugin")
            url = ""
        values["stash_url"] = url
