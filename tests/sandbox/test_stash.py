"""The simulated Stash, driven through real HTTP and the real stashapi client."""
from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any, Iterator

import pytest
import requests
from graphql import get_introspection_query
from stashapi.stashapp import StashInterface

from sandbox.stash import SCENE_UPDATE_KEYS, StashSim, default_screenshot

TIMEOUT = 10


class RecordingHost:
    """Our own host interface (sandbox/host.py shape), recording calls; not a Stash or Plex stand-in.

    During a hook it calls back into the server over HTTP, as a hook process would, to prove the
    mutation's change is committed and the server keeps answering while the mutation waits."""

    def __init__(self) -> None:
        self.stash: StashSim | None = None
        self.hooks: list[dict] = []
        self.tasks: list[tuple] = []
        self.stopped: list[str] = []
        self.jobs: dict[str, dict] = {}

    def fire_hooks(self, trigger: str, object_id: int, input_obj: Any, input_fields: Any,
                   visited: list) -> None:
        seen_title = None
        if self.stash is not None and trigger.startswith("Scene.") and "Destroy" not in trigger:
            reply = self.stash.gql("query Seen($id: ID) { findScene(id: $id) { title } }",
                                   {"id": str(object_id)}, timeout=TIMEOUT)
            seen_title = reply["data"]["findScene"]["title"]
        self.hooks.append({"trigger": trigger, "id": object_id, "input": input_obj,
                           "fields": input_fields, "visited": visited, "seen_title": seen_title})

    def run_task(self, plugin_id: str, task_name: str | None, args_map: dict,
                 description: str | None) -> str:
        self.tasks.append((plugin_id, task_name, args_map, description))
        job_id = str(len(self.tasks))
        self.jobs[job_id] = {"id": job_id, "status": "READY", "subTasks": [], "progress": None,
                             "description": description or f"Running plugin task: {task_name}",
                             "startTime": None, "endTime": None,
                             "addTime": "2026-11-25T16:54:27+00:00", "error": None}
        return job_id

    def add_job(self, description: str, func: Any) -> str:
        """Queued, then run at once by run_queued() (the real host's worker thread does it in order)."""
        job_id = str(len(self.tasks) + len(self.jobs) + 100)
        self.jobs[job_id] = {"id": job_id, "status": "READY", "subTasks": [], "progress": None,
                             "description": description, "startTime": None, "endTime": None,
                             "addTime": "2026-11-25T16:54:27+00:00", "error": None, "func": func}
        return job_id

    def run_queued(self) -> None:
        for job in self.jobs.values():
            if job["status"] == "READY" and "func" in job:
                job.pop("func")(None)
                job["status"] = "FINISHED"

    def find_job(self, job_id: str) -> dict | None:
        job = self.jobs.get(job_id)
        return {k: v for k, v in job.items() if k != "func"} if job else None

    def stop_job(self, job_id: str) -> bool:
        self.stopped.append(job_id)
        if job_id in self.jobs:
            self.jobs[job_id]["status"] = "CANCELLED"
            return True
        return False

    def job_queue(self) -> list[dict]:
        return [self.find_job(j["id"]) for j in self.jobs.values() if j["status"] in ("READY", "RUNNING")]


class World:
    def __init__(self, stash: StashSim, host: RecordingHost) -> None:
        self.stash, self.host = stash, host
        self.network = stash.add_studio("Network")
        self.label = stash.add_studio("Label", parent_id=self.network)
        self.other = stash.add_studio("Other")
        self.alice = stash.add_performer("Alice")
        self.bob = stash.add_performer("Bob")
        self.carol = stash.add_performer("Carol")
        self.outdoor = stash.add_tag("Outdoor")
        self.night = stash.add_tag("Night")
        self.group = stash.add_group("Series One")
        self.scenes = [
            stash.add_scene("First", ["/data/scenes/Label/first.mp4"], studio_id=self.label,
                            performer_ids=[self.alice, self.bob], tag_ids=[self.outdoor],
                            date="2024-05-01", groups=[(self.group, 1)], code="L-1"),
            stash.add_scene("Second", ["/data/scenes/Network/second.mp4"], studio_id=self.network,
                            performer_ids=[self.bob], tag_ids=[self.outdoor, self.night], date="2024"),
            stash.add_scene("Third", ["/data/scenes/Other/third.mp4"], studio_id=self.other,
                            performer_ids=[self.carol], date="2023-02"),
            stash.add_scene(None, ["/data/scenes/Other/untitled.mp4"]),
            stash.add_scene("Fifth", ["/data/scenes/Label/fifth.mp4"], studio_id=self.label,
                            tag_ids=[self.night]),
        ]


@pytest.fixture
def world() -> Iterator[World]:
    host = RecordingHost()
    stash = StashSim(host=host)
    host.stash = stash
    w = World(stash, host)
    stash.start()
    try:
        yield w
    finally:
        stash.stop()


def client(stash: StashSim, **conn: Any) -> StashInterface:
    # server_connection as Stash sends it: Host 0.0.0.0, which stashapi maps to 127.0.0.1
    return StashInterface({"Scheme": "http", "Host": "0.0.0.0", "Port": stash.port, **conn})


def post(stash: StashSim, query: str, variables: dict | None = None, **kw: Any) -> requests.Response:
    return requests.post(stash.url + "/graphql", json={"query": query, "variables": variables or {}},
                         timeout=TIMEOUT, **kw)


SCENE_UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id title date updated_at } }"


# ------------------------------------------------------------------------------ stashapi client

def test_stashapi_constructs_and_finds_scene(world: World) -> None:
    stash = client(world.stash)
    assert stash.version.major == 0 and stash.version.minor == 30
    assert "Scene" in stash.fragments and "SceneGroup" in stash.fragments

    scene = stash.find_scene(world.scenes[0])
    assert scene["title"] == "First"
    assert scene["date"] == "2024-05-01"
    assert scene["studio"] == {"id": str(world.label)}             # stashapi's override fragment
    assert [p["id"] for p in scene["performers"]] == [str(world.alice), str(world.bob)]
    assert [t["name"] for t in scene["tags"]] == ["Outdoor"]
    assert scene["groups"] == [{"group": {"id": str(world.group)}, "scene_index": 1}]
    assert scene["files"][0]["path"] == "/data/scenes/Label/first.mp4"
    assert scene["files"][0]["basename"] == "first.mp4"
    assert scene["paths"]["screenshot"].startswith(f"{world.stash.url}/scene/{world.scenes[0]}/screenshot?t=")

    custom = stash.find_scene(world.scenes[0], fragment="id title studio { name parent_studio { name } }")
    assert custom["studio"] == {"name": "Label", "parent_studio": {"name": "Network"}}
    assert stash.find_scene(9999) is None


def test_stashapi_generated_fragments_run(world: World) -> None:
    # stashapi builds a fragment per object type from introspection; each must execute here.
    stash = client(world.stash)
    w = world
    queries = {
        "findScene": ("query Q($id: ID) { findScene(id: $id) { ...Scene } }", {"id": w.scenes[0]}),
        "findStudio": ("query Q($id: ID!) { findStudio(id: $id) { ...Studio } }", {"id": w.label}),
        "findPerformer": ("query Q($id: ID!) { findPerformer(id: $id) { ...Performer } }", {"id": w.bob}),
        "findTag": ("query Q($id: ID!) { findTag(id: $id) { ...Tag } }", {"id": w.night}),
        "findGroup": ("query Q($id: ID!) { findGroup(id: $id) { ...Group } }", {"id": w.group}),
        "systemStatus": ("query Q { systemStatus { ...SystemStatus } }", {}),
        "jobQueue": ("query Q { jobQueue { ...Job } }", {}),
    }
    for root, (query, variables) in queries.items():
        assert stash.call_GQL(query, variables)[root] is not None, root
    assert stash.find_performer(w.bob)["name"] == "Bob"          # by id: findPerformer(...Performer)
    assert stash.find_performer(w.bob)["scene_count"] == 2
    assert stash.find_tag(w.night)["scene_count"] == 2
    config = stash.get_configuration()
    assert config["general"]["apiKey"] == "" and config["plugins"] == {}


def test_stashapi_find_scenes_paginates_with_callback(world: World) -> None:
    stash = client(world.stash)
    pages: list[tuple[int, int, list[str]]] = []

    def on_page(items: list[dict], count: int, page_number: int) -> None:
        pages.append((page_number, count, [s["id"] for s in items]))

    stash.find_scenes(filter={"per_page": 2, "sort": "id", "direction": "ASC"}, fragment="id",
                      callback=on_page)
    assert [p[0] for p in pages] == [1, 2, 3]
    assert all(p[1] == 5 for p in pages)
    assert [i for p in pages for i in p[2]] == [str(s) for s in world.scenes]

    count, scenes = stash.find_scenes(filter={"per_page": -1}, fragment="id title", get_count=True)
    assert count == 5 and len(scenes) == 5
    # default sort is title; an untitled scene sorts by its file name
    assert [s["title"] for s in scenes] == ["Fifth", "First", "Second", "Third", None]


def test_find_scenes_paging_rules(world: World) -> None:
    q = "query F($f: FindFilterType) { findScenes(filter: $f) { count duration filesize scenes { id } } }"
    r = world.stash.gql(q, {"f": {"per_page": 0}})["data"]["findScenes"]
    assert r["count"] == 5 and r["scenes"] == [] and r["filesize"] > 0 and r["duration"] > 0
    r = world.stash.gql(q, {"f": {"per_page": 2, "page": 3, "sort": "id", "direction": "DESC"}})
    assert r["data"]["findScenes"]["scenes"] == [{"id": str(world.scenes[0])}]
    r = world.stash.gql(q, {"f": {"q": "second"}})["data"]["findScenes"]
    assert r["scenes"] == [{"id": str(world.scenes[1])}]


def test_updated_at_greater_than_filter(world: World) -> None:
    stash = client(world.stash)
    watermark = world.stash.scene(world.scenes[0])["updated_at"]
    assert watermark.endswith("Z") and len(watermark) == 20          # RFC 3339, second precision
    world.stash.advance_clock(10)
    world.stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[2]), "details": "changed"}})

    changed = stash.find_scenes(f={"updated_at": {"value": watermark, "modifier": "GREATER_THAN"}},
                                filter={"per_page": -1, "sort": "updated_at", "direction": "ASC"},
                                fragment="id updated_at")
    assert [s["id"] for s in changed] == [str(world.scenes[2])]
    assert changed[0]["updated_at"] > watermark


def test_updated_at_compares_as_text(world: World) -> None:
    # A watermark in another offset style compares lexicographically, as in Stash's SQL.
    stash = client(world.stash)
    text = world.stash.scene(world.scenes[0])["updated_at"].replace("Z", "+00:00")
    hits = stash.find_scenes(f={"updated_at": {"value": text, "modifier": "GREATER_THAN"}}, fragment="id")
    assert len(hits) == 5        # "…Z" > "…+00:00" as text, although the instants are equal


def test_performer_tag_studio_filters(world: World) -> None:
    stash = client(world.stash)

    def ids(f: dict) -> set[int]:
        return {int(s["id"]) for s in stash.find_scenes(f=f, fragment="id")}

    s1, s2, s3, s4, s5 = world.scenes
    assert ids({"performers": {"value": [str(world.bob)], "modifier": "INCLUDES"}}) == {s1, s2}
    assert ids({"performers": {"value": [str(world.alice), str(world.bob)],
                               "modifier": "INCLUDES_ALL"}}) == {s1}
    assert ids({"performers": {"value": [str(world.bob)], "modifier": "EXCLUDES"}}) == {s3, s4, s5}
    assert ids({"tags": {"value": [str(world.outdoor), str(world.night)],
                         "modifier": "INCLUDES_ALL"}}) == {s2}
    assert ids({"tags": {"modifier": "IS_NULL"}}) == {s3, s4}
    assert ids({"studios": {"value": [str(world.network)], "modifier": "INCLUDES"}}) == {s2}
    assert ids({"studios": {"value": [str(world.network)], "modifier": "INCLUDES",
                            "depth": -1}}) == {s1, s2, s5}
    assert ids({"id": {"value": s3, "modifier": "GREATER_THAN"}}) == {s4, s5}
    assert ids({"date": {"value": "2024", "modifier": "GREATER_THAN"}}) == {s1}
    assert ids({"tags": {"value": [str(world.night)], "modifier": "INCLUDES"},
                "OR": {"performers": {"value": [str(world.carol)], "modifier": "INCLUDES"}}}) == {s2, s3, s5}


# ------------------------------------------------------------------------------ plugin tasks / jobs

def test_run_plugin_task_reaches_host(world: World) -> None:
    stash = client(world.stash)
    job_id = stash.run_plugin_task("PlexSync", "Process queue", {"mode": "drain", "n": 3, "ratio": 0.5})
    assert job_id == "1"
    # stashapi sends the deprecated args list, converted to a map for the host
    assert world.host.tasks == [("PlexSync", "Process queue", {"mode": "drain", "n": 3, "ratio": 0.5}, None)]
    # stashapi puts a bool into the Int slot ({"i": true}); gqlgen's UnmarshalInt refuses a JSON bool,
    # and so does this server: the task is not queued.
    with pytest.raises(Exception):
        stash.run_plugin_task("PlexSync", "Process queue", {"force": True})
    assert len(world.host.tasks) == 1
    assert stash.find_job(job_id)["status"] == "READY"
    assert [j["id"] for j in stash.job_queue()] == ["1"]
    assert stash.stop_job(job_id) is True
    assert world.host.stopped == ["1"]
    assert stash.find_job("404") is None

    reply = world.stash.gql('mutation { runPluginTask(plugin_id: "PlexSync", task_name: "Sync all", '
                            'description: "d", args_map: {full: true}, args: [{key: "x", value: {i: 1}}]) }')
    assert reply["data"]["runPluginTask"] == "2"
    assert world.host.tasks[1] == ("PlexSync", "Sync all", {"full": True}, "d")   # args_map wins


# ------------------------------------------------------------------------------ hooks

def test_scene_update_fires_one_hook_with_full_input(world: World) -> None:
    cookie = world.stash.make_session_cookie([("PlexSync", "Scene.Update.Post")])
    sent = {"id": str(world.scenes[0]), "title": "  New title ", "tag_ids": [str(world.night)],
            "rating100": None}
    reply = world.stash.gql(SCENE_UPDATE, {"input": sent}, cookie=cookie)
    assert "errors" not in reply
    assert reply["data"]["sceneUpdate"]["title"] == "  New title "

    assert len(world.host.hooks) == 1
    hook = world.host.hooks[0]
    assert hook["trigger"] == "Scene.Update.Post" and hook["id"] == world.scenes[0]
    assert list(hook["input"]) == list(SCENE_UPDATE_KEYS)
    assert hook["input"]["title"] == "  New title "            # untrimmed, as sent
    assert hook["input"]["tag_ids"] == [str(world.night)]      # ids, not names
    assert hook["input"]["details"] is None and hook["input"]["urls"] is None
    assert sorted(hook["fields"]) == sorted(sent)             # keys sent, even the explicit null
    assert hook["visited"] == [("PlexSync", "Scene.Update.Post")]
    assert hook["seen_title"] == "  New title "                # committed before the hook ran
    assert world.stash.scene(world.scenes[0])["tags"] == [{"id": world.night, "name": "Night"}]


def test_scene_update_with_groups_serialises_nested_inputs(world: World) -> None:
    world.stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[1]),
                                             "groups": [{"group_id": str(world.group)}]}})
    assert world.host.hooks[0]["input"]["groups"] == [{"group_id": str(world.group), "scene_index": None}]
    assert world.stash.scene(world.scenes[1])["groups"][0]["name"] == "Series One"


def test_bulk_scene_update_fires_one_hook_per_scene(world: World) -> None:
    q = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id tags { name } } }"
    ids = [str(s) for s in world.scenes[:3]]
    sent = {"ids": ids, "tag_ids": {"ids": [str(world.night)], "mode": "ADD"}, "organized": True}
    reply = world.stash.gql(q, {"input": sent})
    assert "errors" not in reply and len(reply["data"]["bulkSceneUpdate"]) == 3

    assert [h["id"] for h in world.host.hooks] == world.scenes[:3]
    for hook in world.host.hooks:
        assert hook["trigger"] == "Scene.Update.Post"
        assert hook["input"]["ids"] == ids                      # the whole bulk input each time
        assert hook["input"]["tag_ids"] == {"ids": [str(world.night)], "mode": "ADD"}
        assert hook["input"]["title"] is None and "performer_ids" in hook["input"]
        assert sorted(hook["fields"]) == ["ids", "organized", "tag_ids"]
    assert world.stash.scene(world.scenes[0])["tags"] == [{"id": world.outdoor, "name": "Outdoor"},
                                                          {"id": world.night, "name": "Night"}]


def test_performer_update_fires_performer_hook_only(world: World) -> None:
    before = world.stash.scene(world.scenes[0])["updated_at"]
    world.stash.advance_clock(5)
    q = "mutation P($input: PerformerUpdateInput!) { performerUpdate(input: $input) { id name } }"
    reply = world.stash.gql(q, {"input": {"id": str(world.alice), "name": "Alicia"}})
    assert reply["data"]["performerUpdate"] == {"id": str(world.alice), "name": "Alicia"}
    assert [(h["trigger"], h["id"]) for h in world.host.hooks] == [("Performer.Update.Post", world.alice)]
    assert world.host.hooks[0]["fields"] == ["id", "name"]
    assert world.host.hooks[0]["input"]["disambiguation"] is None
    # the scene's own updated_at does not move when a performer is renamed
    assert world.stash.scene(world.scenes[0])["updated_at"] == before
    assert world.stash.scene(world.scenes[0])["performers"][0]["name"] == "Alicia"


@pytest.mark.parametrize("mutation,input_type,trigger", [
    ("studioUpdate", "StudioUpdateInput", "Studio.Update.Post"),
    ("tagUpdate", "TagUpdateInput", "Tag.Update.Post"),
    ("groupUpdate", "GroupUpdateInput", "Group.Update.Post"),
])
def test_other_object_updates_fire_their_hooks(world: World, mutation: str, input_type: str,
                                               trigger: str) -> None:
    obj_id = {"studioUpdate": world.other, "tagUpdate": world.night, "groupUpdate": world.group}[mutation]
    q = f"mutation X($input: {input_type}!) {{ {mutation}(input: $input) {{ id name }} }}"
    reply = world.stash.gql(q, {"input": {"id": str(obj_id), "name": "Renamed"}})
    assert reply["data"][mutation]["name"] == "Renamed"
    assert [(h["trigger"], h["id"]) for h in world.host.hooks] == [(trigger, obj_id)]


def test_scene_destroy_fires_destroy_hook(world: World) -> None:
    q = "mutation D($input: SceneDestroyInput!) { sceneDestroy(input: $input) }"
    assert world.stash.gql(q, {"input": {"id": str(world.scenes[4])}})["data"]["sceneDestroy"] is True
    hook = world.host.hooks[0]
    assert hook["trigger"] == "Scene.Destroy.Post" and hook["fields"] is None
    assert hook["input"]["path"] == "/data/scenes/Label/fifth.mp4"
    assert world.stash.scene_ids() == world.scenes[:4]


def test_scan_and_auto_tag_style_changes(world: World) -> None:
    sid = world.scenes[0]
    before = world.stash.scene(sid)["updated_at"]
    world.stash.advance_clock(3)
    world.stash.touch_scene_without_hook(sid, tag_ids=[world.night])
    touched = world.stash.scene(sid)["updated_at"]
    assert touched > before and world.host.hooks == []

    world.stash.advance_clock(3)
    world.stash.scan_update(sid, files=["/data/scenes/Moved/first.mp4"])
    new_id = world.stash.scan_create("Brand new", ["/data/scenes/Other/new.mp4"])
    assert [(h["trigger"], h["id"], h["input"], h["fields"]) for h in world.host.hooks] == [
        ("Scene.Update.Post", sid, None, None), ("Scene.Create.Post", new_id, None, None)]
    assert world.stash.scene(sid)["files"] == ["/data/scenes/Moved/first.mp4"]
    assert world.stash.scene(sid)["updated_at"] > touched


def test_invalid_input_changes_nothing_and_fires_nothing(world: World) -> None:
    before = world.stash.scene(world.scenes[0])
    reply = world.stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[0]), "title": "x",
                                                     "studio_id": "999"}})
    assert reply["data"]["sceneUpdate"] is None and "999" in reply["errors"][0]["message"]
    assert world.stash.scene(world.scenes[0]) == before and world.host.hooks == []


# ------------------------------------------------------------------------------ dates, covers

@pytest.mark.parametrize("value,ok", [("2024", True), ("2024-05", True), ("2024-05-31", True), ("", True),
                                      ("2024-13", False), ("2024-02-30", False), ("24-01-01", False),
                                      ("2024/05/01", False)])
def test_partial_dates(world: World, value: str, ok: bool) -> None:
    reply = world.stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[1]), "date": value}})
    if ok:
        assert reply["data"]["sceneUpdate"]["date"] == (value or None)
    else:
        assert reply["data"]["sceneUpdate"] is None and "invalid date" in reply["errors"][0]["message"]
        assert world.stash.scene(world.scenes[1])["date"] == "2024"


def test_screenshot_bytes_and_cover_upload(world: World) -> None:
    sid = world.scenes[2]
    url = client(world.stash).find_scene(sid, fragment="paths { screenshot }")["paths"]["screenshot"]
    resp = requests.get(url, timeout=TIMEOUT)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.content == default_screenshot(sid)

    jpeg = b"\xff\xd8\xff\xe0" + b"sandbox-cover" * 10
    data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    world.stash.advance_clock(2)
    world.stash.gql(SCENE_UPDATE, {"input": {"id": str(sid), "cover_image": data_url}})
    new_url = client(world.stash).find_scene(sid, fragment="paths { screenshot }")["paths"]["screenshot"]
    assert new_url != url                                     # ?t= follows updated_at
    resp = requests.get(new_url, timeout=TIMEOUT)
    assert resp.headers["Content-Type"] == "image/jpeg" and resp.content == jpeg
    assert world.stash.scene(sid)["cover_sha1"] == hashlib.sha1(jpeg).hexdigest()
    assert requests.get(world.stash.url + "/scene/999/screenshot", timeout=TIMEOUT).status_code == 404


def test_studio_group_performer_images_served_as_stash_builds_their_urls(world: World) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"studio-logo" * 5
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    world.stash.advance_clock(2)
    world.stash.gql("mutation($i: StudioUpdateInput!) { studioUpdate(input: $i) { id } }",
                    {"i": {"id": str(world.label), "image": data_url}})
    world.stash.gql("mutation($i: GroupUpdateInput!) { groupUpdate(input: $i) { id } }",
                    {"i": {"id": str(world.group), "front_image": data_url}})
    data = world.stash.gql("query { findStudio(id: %d) { image_path } findGroup(id: %d) { front_image_path } "
                           "findPerformer(id: %d) { image_path } }" % (world.label, world.group, world.alice))
    studio, group = data["data"]["findStudio"]["image_path"], data["data"]["findGroup"]["front_image_path"]
    performer = data["data"]["findPerformer"]["image_path"]
    assert "/studio/%d/image?t=" % world.label in studio and "default=true" not in studio
    assert "/group/%d/frontimage?t=" % world.group in group and "default=true" not in group
    assert performer.endswith("&default=true")  # no image of its own: Stash serves its default picture
    for url in (studio, group):
        resp = requests.get(url, timeout=TIMEOUT)
        assert resp.status_code == 200 and resp.content == png and resp.headers["Content-Type"] == "image/png"
    assert requests.get(performer, timeout=TIMEOUT).status_code == 200
    bare = performer.split("?")[0]
    assert requests.get(bare, timeout=TIMEOUT).status_code == 404


# ------------------------------------------------------------------------------ auth

def test_auth_requires_cookie_or_api_key() -> None:
    stash = StashSim(username="admin", password="secret", api_key="test-api-key")
    sid = stash.add_scene("Locked", ["/data/x.mp4"])
    stash.start()
    try:
        q = "{ version { version } }"
        assert post(stash, q).status_code == 401
        assert post(stash, q, headers={"ApiKey": "wrong"}).status_code == 401
        assert post(stash, q, headers={"ApiKey": "test-api-key"}).status_code == 200
        assert requests.post(stash.url + "/graphql?apikey=test-api-key", json={"query": q},
                             timeout=TIMEOUT).status_code == 200
        assert post(stash, q, cookies={"session": "forged"}).status_code == 401
        cookie = stash.make_session_cookie([])
        assert post(stash, q, cookies={"session": cookie}).json()["data"]["version"]["version"] == "v0.30.1"

        shot = f"{stash.url}/scene/{sid}/screenshot"
        assert requests.get(shot, timeout=TIMEOUT).status_code == 401
        assert requests.get(shot + "?apikey=test-api-key", timeout=TIMEOUT).status_code == 200

        # the real client as a plugin uses it: session cookie from server_connection
        api = client(stash, SessionCookie={"Name": "session", "Value": cookie})
        assert api.find_scene(sid, fragment="id title")["title"] == "Locked"
        assert api.call_GQL("{ configuration { general { apiKey } } }")["configuration"]["general"][
            "apiKey"] == "test-api-key"
        login = requests.post(stash.url + "/login", data={"username": "admin", "password": "secret"},
                              timeout=TIMEOUT)
        assert login.status_code == 200 and post(stash, q, cookies=login.cookies).status_code == 200
    finally:
        stash.stop()


def test_no_auth_needs_no_credentials(world: World) -> None:
    assert post(world.stash, "{ systemStatus { status } }").json()["data"]["systemStatus"]["status"] == "OK"


# ------------------------------------------------------------------------------ schema, config, misc

def test_introspection_works(world: World) -> None:
    reply = post(world.stash, get_introspection_query(descriptions=True)).json()
    types = {t["name"]: t for t in reply["data"]["__schema"]["types"]}
    for name in ("Scene", "SceneFilterType", "FindFilterType", "TimestampCriterionInput",
                 "BulkSceneUpdateInput", "BulkUpdateIds", "PluginArgInput", "Job", "ConfigResult"):
        assert name in types
    assert {v["name"] for v in types["BulkUpdateIdMode"]["enumValues"]} == {"SET", "ADD", "REMOVE"}


def test_configure_plugin_then_read_settings(world: World) -> None:
    q = "mutation C($id: ID!, $v: Map!) { configurePlugin(plugin_id: $id, input: $v) }"
    values = {"plex_url": "http://127.0.0.1:32400", "skip_tags": True, "max_retries": 3}
    assert world.stash.gql(q, {"id": "PlexSync", "v": values})["data"]["configurePlugin"] == values
    read = "query R($inc: [ID!]) { configuration { plugins(include: $inc) } }"
    assert world.stash.gql(read, {"inc": ["PlexSync"]})["data"]["configuration"]["plugins"] == {
        "PlexSync": values}
    assert world.stash.gql(read, {"inc": ["plexsync"]})["data"]["configuration"]["plugins"] == {}
    assert client(world.stash).find_plugin_config("PlexSync") == values
    # configurePlugin replaces the whole map
    world.stash.gql(q, {"id": "PlexSync", "v": {"skip_tags": False}})
    assert world.stash.plugin_config("PlexSync") == {"skip_tags": False}


def test_get_with_query_and_request_counts(world: World) -> None:
    world.stash.reset_requests()
    resp = requests.get(world.stash.url + "/graphql", params={"query": "query V { version { hash } }"},
                        timeout=TIMEOUT)
    assert resp.status_code == 200 and resp.json()["data"]["version"]["hash"]
    world.stash.gql("query V { version { hash } }")
    world.stash.gql("{ systemStatus { status } }")
    assert world.stash.request_count("V") == 2
    assert world.stash.request_count(field="systemStatus") == 1
    assert world.stash.request_count() == 3
    mutation = requests.get(world.stash.url + "/graphql", timeout=TIMEOUT, params={
        "query": 'mutation { configurePlugin(plugin_id: "x", input: {a: 1}) }'})
    assert mutation.status_code == 406 and world.stash.plugin_config("x") == {}
    bad = post(world.stash, "{ nope }")
    assert bad.status_code == 422 and bad.json()["errors"]


def test_hooks_can_call_back_concurrently(world: World) -> None:
    # Several mutations in flight, each waiting on a hook that calls back over HTTP.
    errors: list[str] = []

    def edit(i: int) -> None:
        reply = world.stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[i]), "title": f"t{i}"}},
                                timeout=TIMEOUT)
        if "errors" in reply:
            errors.append(str(reply["errors"]))

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert sorted(h["seen_title"] for h in world.host.hooks) == [f"t{i}" for i in range(5)]


def test_auto_tag_is_a_job_that_tags_by_name_in_path_and_fires_no_hook(world: World) -> None:
    """metadataAutoTag queues "Auto-tagging..." (Stash's manager_tasks.go); the job adds performers and
    tags whose names are whole words of the file path, a studio only to a scene without one, bumps
    updated_at of changed scenes and fires no hook (internal/autotag calls no post hook)."""
    stash = world.stash
    jane = stash.add_performer("Jane Doe")
    beach = stash.add_tag("Beach")
    stash.add_tag("Bea")  # a part of a word never matches
    free = stash.add_scene("Free", ["/data/scenes/Other/jane.doe-on_the_BEACH.mp4"])
    labelled = stash.add_scene("Labelled", ["/data/scenes/Label/Jane_Doe at the beach.mp4"],
                               studio_id=world.other)
    before = {sid: stash.scene(sid)["updated_at"] for sid in (free, labelled, world.scenes[1])}
    stash.advance_clock(5)
    reply = post(stash, 'mutation { metadataAutoTag(input: {paths: ["/data/scenes/"]}) }').json()
    job_id = reply["data"]["metadataAutoTag"]
    queue = post(stash, "{ jobQueue { id status description } }").json()["data"]["jobQueue"]
    assert {"id": job_id, "status": "READY", "description": "Auto-tagging..."} in queue
    world.host.run_queued()
    free_scene, labelled_scene = stash.scene(free), stash.scene(labelled)
    for scene in (free_scene, labelled_scene):
        assert [p["id"] for p in scene["performers"]] == [jane] and [t["id"] for t in scene["tags"]] == [beach]
    assert free_scene["studio"]["id"] == world.other      # "Other" is a directory name in its path
    assert labelled_scene["studio"]["id"] == world.other  # kept: Auto Tag never replaces a studio
    assert free_scene["updated_at"] > before[free] and labelled_scene["updated_at"] > before[labelled]
    assert stash.scene(world.scenes[1])["updated_at"] == before[world.scenes[1]]  # nothing to add
    assert world.host.hooks == []
