"""The simulated Stash's shortcuts (stored records served without copies, cached listings and documents,
plain fields read directly) change no answer: everything here goes through real HTTP."""
from __future__ import annotations

import pytest
from graphql import build_schema, execute_sync, parse

from sandbox.stash import StashSim
from sandbox.stash_executor import execute as fast_execute
from tests.sandbox import test_stash
from tests.sandbox.test_stash import SCENE_UPDATE, World

world = test_stash.world  # the same started simulated Stash per test

BIG = """
query Big($f: FindFilterType, $sf: SceneFilterType) {
  findScenes(filter: $f, scene_filter: $sf) {
    count duration filesize
    scenes {
      __typename id title code details director urls url date rating100 organized updated_at created_at
      first: title
      studio { id name parent_studio { id name scene_count(depth: -1) } child_studios { id } }
      performers { id name gender disambiguation scene_count }
      tags { id name parents { id name } children { id } scene_count(depth: 0) }
      stash_ids { endpoint stash_id }
      groups { scene_index group { id name studio { id } } }
      files { path basename size duration width height fingerprints { type value } }
      paths { screenshot stream }
      ... on Scene { o_counter interactive }
    }
  }
}
"""


def reference(stash: StashSim, query: str, variables: dict) -> dict:
    """graphql-core's own executor on the same schema and resolvers, without any shortcut."""
    result = execute_sync(stash.schema, parse(query), variable_values=variables,
                          context_value={"base_url": stash.url, "visited": []})
    out: dict = {"data": result.data}
    if result.errors:
        out["errors"] = [e.formatted for e in result.errors]
    return out


@pytest.mark.parametrize("variables", [
    {"f": {"per_page": -1, "sort": "created_at"}},
    {"f": {"page": 2, "per_page": 2, "sort": "title", "direction": "DESC"}},
    {"f": {"per_page": 10, "sort": "date"}, "sf": {"tags": {"value": ["1"], "modifier": "INCLUDES"}}},
])
def test_answers_are_graphql_cores_own(world: World, variables: dict) -> None:
    answer = world.stash.gql(BIG, variables)
    assert "errors" not in answer
    assert answer == reference(world.stash, BIG, variables)
    assert answer["data"]["findScenes"]["scenes"]  # the comparison saw scenes, not an empty page


def test_errors_are_graphql_cores_own() -> None:
    """A null on a non-null field, a value its type rejects, a callable: the shortcut steps aside and
    graphql-core reports exactly what it always reports."""
    schema = build_schema("""
        enum Kind { A B }
        type Item { name: String! count: Int flag: Boolean kind: Kind! label: String twice: String }
        type Query { item: Item nameless: Item items: [Item!] }
    """)
    item = {"name": "ok", "count": "abc", "flag": True, "kind": "A", "label": lambda _info: "called",
            "twice": "x"}
    root = {"item": item, "nameless": {"name": None}, "items": [{"count": 3, "kind": "C"}]}
    query = "{ item { name count flag kind label twice again: twice } nameless { name } items { count kind } }"
    expected = execute_sync(schema, parse(query), root_value=root)
    got = fast_execute(schema, parse(query), {}, None, None, root_value=root)
    assert expected.errors and len(expected.errors) == 3  # the case is worth comparing
    assert got.data == expected.data
    assert [e.formatted for e in got.errors] == [e.formatted for e in expected.errors]


def test_listings_follow_every_write(world: World) -> None:
    """Listings are cached between writes: an edit, a tag moved under another and a deletion all show."""
    stash = world.stash
    q = ("query L($f: FindFilterType, $sf: SceneFilterType) "
         "{ findScenes(filter: $f, scene_filter: $sf) { count scenes { id title } } }")
    by_title = {"f": {"per_page": -1, "sort": "title"}}
    before = [s["title"] for s in stash.gql(q, by_title)["data"]["findScenes"]["scenes"]]
    assert before == ["Fifth", "First", "Second", "Third", None]  # the untitled one sorts by file name

    stash.gql(SCENE_UPDATE, {"input": {"id": str(world.scenes[2]), "title": "Aardvark"}})
    after = [s["title"] for s in stash.gql(q, by_title)["data"]["findScenes"]["scenes"]]
    assert after == ["Aardvark", "Fifth", "First", "Second", None]

    under_night = {"f": {"per_page": -1, "sort": "id"},
                   "sf": {"tags": {"value": [str(world.night)], "modifier": "INCLUDES", "depth": -1}}}
    assert stash.gql(q, under_night)["data"]["findScenes"]["count"] == 2
    stash.gql("mutation T($input: TagUpdateInput!) { tagUpdate(input: $input) { id } }",
              {"input": {"id": str(world.night), "child_ids": [str(world.outdoor)]}})
    assert stash.gql(q, under_night)["data"]["findScenes"]["count"] == 3  # Outdoor is below Night now
    children = stash.gql("query { findTag(id: %d) { children { id } } }" % world.night)
    assert children["data"]["findTag"]["children"] == [{"id": str(world.outdoor)}]

    stash.gql("mutation D($input: SceneDestroyInput!) { sceneDestroy(input: $input) }",
              {"input": {"id": str(world.scenes[0])}})
    listed = stash.gql(q, by_title)["data"]["findScenes"]
    assert listed["count"] == 4 and "First" not in [s["title"] for s in listed["scenes"]]


def test_a_bad_document_is_refused_every_time(world: World) -> None:
    """Parsed and validated documents are cached; a refused one is refused again, the same way."""
    bad = "query { findScenes { nope } }"
    first, second = world.stash.gql(bad), world.stash.gql(bad)
    assert first == second and first["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
