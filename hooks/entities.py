"""Performer / Studio / Tag / Group .Update.Post: a renamed object changes what Plex shows for every scene
that carries it, and Stash fires no scene hook for that. Queue those scenes.

Fast-hook rules, as for scene hooks: standard library only (stash.graphql is http.client), one GraphQL request,
a single SQLite transaction, no Plex traffic. Rules:
- Only when the update sent a name (`inputFields` holds "name") and the name that reaches Plex may differ.
  Stash's edit forms send every field on each Save, so "sent" is not "changed": the last name seen for
  each object is kept in the queue database's state table, and a Save that sends the same name again
  queues nothing. (The first Save after install has nothing to compare with and queues, which is safe:
  the worker skips unchanged scenes without Plex requests.)
- Only when the name is synced at all: performers -> actors (sync_performers), studio -> studio
  (sync_studio) or a collection (collections_from_studio), tags -> genres (sync_tags), groups ->
  collections (collections_from_groups); performers, tags and studios also when they make collections
  (issue 12). A studio's parent is not written to Plex, so a parent change alone queues nothing; a
  renamed studio queues only the scenes directly in it (depth 0), or also those of its child studios when
  a title template shows {parent_studio} or parent-studio collections are on (its name is then on its
  sub-studios' items too). A name shown by a title template ({performers}, {studio}, {group}...) counts
  as synced.
- A tag update that sends parents or children, while tags are excluded by parent tag
  (exclude_tags_under), queues the scenes of the tag and of every tag below it (depth -1).
"""
from __future__ import annotations

from typing import Any, Mapping

from queue import pending
from queue.database import get_state, set_state, transaction
from queue.pending import PendingSet
from stash import log
from stash.graphql import StashClient
from validation.config import Settings


class EntityKind:
    def __init__(self, label: str, criterion: str, hierarchical: bool, settings_names: tuple[str, ...]) -> None:
        self.label = label                    # 'performer'
        self.criterion = criterion            # SceneFilterType field
        self.hierarchical = hierarchical      # HierarchicalMultiCriterionInput (has depth)
        self.settings_names = settings_names  # any of these on: the name reaches Plex

    def synced(self, settings: Settings | None) -> bool:
        if settings is None:
            return True  # settings unreadable: recording loses nothing
        return any(bool(getattr(settings, name, False)) for name in self.settings_names) or bool(
            self.in_titles(settings))

    def in_titles(self, settings: Settings | None) -> set[str]:
        """Placeholders of the title templates that show this kind's names (a rename changes titles)."""
        templates = [t for t in (getattr(settings, "title_template", ""), getattr(settings, "sort_title_template", ""))
                     if t]
        if not templates:
            return set()
        from validation.templates import uses_placeholder  # noqa: PLC0415 - only when a template is set
        return {p for p in TITLE_PLACEHOLDERS.get(self.label, ()) for t in templates if uses_placeholder(t, p)}


TITLE_PLACEHOLDERS = {"performer": ("performers", "first_performer"), "studio": ("studio", "parent_studio"),
                      "group": ("group",)}


KINDS: dict[str, EntityKind] = {
    "Performer.Update.Post": EntityKind("performer", "performers", False,
                                        ("sync_performers", "collections_from_performers")),
    "Studio.Update.Post": EntityKind("studio", "studios", True, ("sync_studio", "collections_from_studio",
                                                                 "collections_from_parent_studios")),
    "Tag.Update.Post": EntityKind("tag", "tags", True, ("sync_tags", "collections_from_tags")),
    "Group.Update.Post": EntityKind("group", "groups", False, ("collections_from_groups",)),
}

SCENES_QUERY = ("query PlexSyncScenesOf($sf: SceneFilterType, $f: FindFilterType) "
                "{ findScenes(scene_filter: $sf, filter: $f) { count scenes { id } } }")


def name_key(kind: EntityKind, object_id: int) -> str:
    return f"entity_name:{kind.label}:{object_id}"


def sent_name(hook_context: Mapping[str, Any]) -> str | None:
    """The name this update sent, or None when it sent none (inputFields says what the client set)."""
    fields = hook_context.get("inputFields")
    data = hook_context.get("input")
    if not isinstance(data, dict):
        return None
    if isinstance(fields, list) and "name" not in fields:
        return None
    name = data.get("name")
    return name if isinstance(name, str) and name else None


def moved_in_hierarchy(hook_context: Mapping[str, Any], settings: Settings | None) -> bool:
    """A tag update that sent parents or children while tags are excluded by parent tag."""
    fields = hook_context.get("inputFields")
    return bool(settings is not None and getattr(settings, "exclude_tags_under", ()) and isinstance(fields, list)
                and ("parent_ids" in fields or "child_ids" in fields))


def scenes_carrying(client: StashClient, kind: EntityKind, object_id: int, depth: int = 0) -> list[int]:
    criterion: dict[str, Any] = {"value": [str(object_id)], "modifier": "INCLUDES"}
    if kind.hierarchical:
        criterion["depth"] = depth
    data = client.execute(SCENES_QUERY, {"sf": {kind.criterion: criterion}, "f": {"per_page": -1}})
    scenes = (data.get("findScenes") or {}).get("scenes") or []
    return [int(s["id"]) for s in scenes if str(s.get("id", "")).isdigit()]


def on_entity_update(hook_type: str, object_id: int, hook_context: Mapping[str, Any], queue: PendingSet,
                     client: StashClient, settings: Settings | None) -> int:
    """Record the scenes of a renamed performer/studio/tag/group. Returns how many scenes were recorded
    (0 when nothing reaching Plex changed). A Stash error propagates: the hook reports it, nothing is lost
    but this rename, which "Sync all" catches."""
    kind = KINDS.get(hook_type)
    if kind is None:
        raise ValueError(f"not an entity hook: {hook_type}")
    if settings is not None and not settings.enabled:
        log.debug(f"{kind.label} {object_id}: Pause sync is on, update not recorded")
        return 0
    if kind.label == "tag" and moved_in_hierarchy(hook_context, settings):
        # Exclusion by parent tag: this tag and every tag below it may now be in or out of an excluded
        # branch. Their scenes are queued; those whose Plex tags do not change cost no Plex request.
        scene_ids = scenes_carrying(client, kind, object_id, depth=-1)
        if scene_ids:
            pending.record_many(queue.conn, scene_ids, "tag-parents")
        log.info(f"tag {object_id} parents or children saved: {len(scene_ids)} scene(s) queued for Plex")
        return len(scene_ids)
    name = sent_name(hook_context)
    if name is None:
        log.debug(f"{kind.label} {object_id}: update sent no name, skipped")
        return 0
    if not kind.synced(settings):
        log.debug(f"{kind.label} {object_id}: its name is not synced to Plex (settings), skipped")
        return 0
    conn = queue.conn
    key = name_key(kind, object_id)
    if get_state(conn, key) == name:
        log.debug(f"{kind.label} {object_id}: name unchanged, skipped")
        return 0
    # A studio's name reaches its child studios' scenes when the titles show {parent_studio}, or through
    # their items' collections when parent-studio collections are on.
    whole_chain = "parent_studio" in kind.in_titles(settings) or (
        kind.label == "studio" and bool(getattr(settings, "collections_from_parent_studios", False)))
    scene_ids = scenes_carrying(client, kind, object_id, depth=-1 if whole_chain else 0)
    if scene_ids:
        pending.record_many(conn, scene_ids, f"{kind.label}-rename")
    # Remembered only after the scenes are recorded: a failure before this point queues again next Save.
    with transaction(conn):
        set_state(conn, key, name)
    log.info(f"{kind.label} {object_id} renamed: {len(scene_ids)} scene(s) queued for Plex")
    return len(scene_ids)
