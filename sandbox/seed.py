"""The seeded sandbox world: consistent Stash scenes and Plex items, deterministic from `seed`.

Stash sees files under /data/scenes/<Studio>/<file>.mp4; Plex sees the same files under /media/scenes/...
(a Docker-style mount difference bridged by the path_map setting "/data/=>/media/"). Plex also holds
items Stash does not know, and two clashes that can only give LOW-confidence matches:
- `clash_both_sections`: the scene's mapped file is an item in both the "Scenes" and "Archive" sections;
- `clash_basename`: the scene's mapped path exists nowhere, but two Plex items have its file name.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.plex import PlexSim
    from sandbox.stash import StashSim

STASH_ROOT = "/data/scenes"
PLEX_ROOT = "/media/scenes"
ARCHIVE_ROOT = "/media/archive"
PATH_MAP = "/data/=>/media/"

STUDIOS: list[tuple[str, str | None]] = [   # (name, parent studio name)
    ("Northwind Pictures", None),
    ("Blue Harbor Films", None),
    ("Harbor Nights", "Blue Harbor Films"),
    ("Studio Éclair", None),
    ("Red Fern Media", None),
]
PERFORMERS = ["Ava Lindqvist", "Marco Bellini", "Zoë Ångström", "Kenji Watanabe", "Lena Petrova",
              "Sam O'Neill", "Priya Raman", "Jonas Weber", "Chloé Dubois", "Mateo García", "Ingrid Holm",
              "Ruby Chen"]
TAGS = ["Outdoor", "Interview", "Behind the Scenes", "Drama", "Comedy", "Documentary", "Night", "Travel",
        "Music", "Vintage"]
GROUPS = ["Summer Series", "City Lights Collection", "Director's Cut"]
DIRECTORS = ["Hana Sato", "Peter Novak", "Olivia Grant"]
ADJECTIVES = ["Quiet", "Golden", "Electric", "Hidden", "Endless", "Silver", "Crimson", "Wild", "Gentle", "Late"]
NOUNS = ["Harbor", "Morning", "Journey", "Garden", "Skyline", "Echo", "River", "Station", "Festival", "Letter"]
UNICODE_TITLE = "Café Noir — Zoë’s “Night” Shift 🌙✨"


@dataclass
class SeedWorld:
    """What was seeded, for tests and the demo."""
    scene_ids: list[int] = field(default_factory=list)
    scene_files: dict[int, str] = field(default_factory=dict)          # scene id -> Stash path
    scene_rating_keys: dict[int, list[int]] = field(default_factory=dict)  # scene id -> Plex items with its file
    plex_only: list[int] = field(default_factory=list)                 # Plex items no scene refers to
    clash_both_sections: int | None = None                             # scene id
    clash_basename: int | None = None                                  # scene id
    clash_basename_items: list[int] = field(default_factory=list)      # the two same-name Plex items
    sections: dict[str, int] = field(default_factory=dict)             # Plex section title -> key
    studios: dict[str, int] = field(default_factory=dict)
    performers: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    path_map: str = PATH_MAP

    def as_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}


def to_plex_path(stash_path: str) -> str:
    return PLEX_ROOT + stash_path[len(STASH_ROOT):] if stash_path.startswith(STASH_ROOT) else stash_path


def tiny_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A valid solid-colour PNG, so each scene has its own cover bytes (and poster hash)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * size
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * size))
            + chunk(b"IEND", b""))


def _slug(text: str) -> str:
    return "-".join("".join(c.lower() if c.isalnum() else " " for c in text).split())


def _date(rng: random.Random, index: int) -> str | None:
    year, month, day = rng.randint(2012, 2024), rng.randint(1, 12), rng.randint(1, 28)
    return [f"{year}-{month:02d}-{day:02d}", f"{year}-{month:02d}", f"{year}", None][index % 4]


def _details(rng: random.Random, title: str, index: int) -> str | None:
    if index % 5 == 4:
        return None
    first = f"{title}: {rng.choice(ADJECTIVES).lower()} moments, filmed on location."
    if index % 3 == 0:
        return first + "\n\nSecond paragraph with a tab\tand a line\nbreak."
    return first


def seed_world(stash: "StashSim", plex: "PlexSim", scenes: int = 20, plex_items: int = 40,
               seed: int = 1) -> SeedWorld:
    """Fill both simulators; deterministic for the same arguments."""
    rng = random.Random(seed)
    world = SeedWorld()
    for name, parent in STUDIOS:
        world.studios[name] = stash.add_studio(name, parent_id=world.studios.get(parent) if parent else None)
    world.performers = {name: stash.add_performer(name) for name in PERFORMERS}
    world.tags = {name: stash.add_tag(name) for name in TAGS}
    world.groups = {name: stash.add_group(name) for name in GROUPS}
    world.sections = {"Scenes": plex.add_section("Scenes", [PLEX_ROOT]),
                      "Archive": plex.add_section("Archive", [ARCHIVE_ROOT])}

    both_index = scenes - 2 if scenes >= 4 else None
    basename_index = scenes - 1 if scenes >= 4 else None
    plex_count = 0
    group_counter: dict[str, int] = {}
    for i in range(scenes):
        studio, _ = STUDIOS[i % len(STUDIOS)]
        words = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        title: str | None = f"{words} {i + 1}"
        if i == 0:
            title = UNICODE_TITLE
        elif i == 1:
            title = None                      # untitled scene: Plex should get the file name
        file_stem = f"{_slug(studio)}-{i + 1:04d}-{_slug(words)}"
        stash_path = f"{STASH_ROOT}/{studio}/{file_stem}.mp4"
        fields: dict = {
            "code": f"{''.join(w[0] for w in studio.split()).upper()}-{i + 1:04d}",
            "details": _details(rng, title or file_stem, i),
            "director": DIRECTORS[i % len(DIRECTORS)] if i % 2 == 0 else None,
            "urls": [f"https://example.invalid/scenes/{i + 1}"] if i % 3 != 2 else [],
            "date": _date(rng, i),
            "rating100": rng.choice([None, 20, 40, 60, 80, 100]),
            "organized": i % 4 == 0,
            "studio_id": world.studios[studio],
            "performer_ids": [world.performers[p] for p in rng.sample(PERFORMERS, rng.randint(1, 3))],
            "tag_ids": [world.tags[t] for t in rng.sample(TAGS, rng.randint(0, 4))],
            "cover_bytes": tiny_png((rng.randrange(256), rng.randrange(256), rng.randrange(256))),
        }
        if i % 4 == 3:
            group = GROUPS[(i // 4) % len(GROUPS)]
            group_counter[group] = group_counter.get(group, 0) + 1
            fields["groups"] = [(world.groups[group], group_counter[group])]
        scene_id = stash.add_scene(title, [stash_path], **fields)
        world.scene_ids.append(scene_id)
        world.scene_files[scene_id] = stash_path

        plex_path = to_plex_path(stash_path)
        keys: list[int] = []
        if i == basename_index:
            # Nothing at the mapped path; the same file name in two other places.
            world.clash_basename = scene_id
            name = plex_path.rsplit("/", 1)[1]
            world.clash_basename_items = [
                plex.add_item(world.sections["Scenes"], file_stem, [f"{PLEX_ROOT}/Unsorted/{name}"]),
                plex.add_item(world.sections["Archive"], file_stem, [f"{ARCHIVE_ROOT}/2019/{name}"]),
            ]
            plex_count += 2
        else:
            extra = {"genres": ["Imported"]} if i % 5 == 2 else {}
            keys.append(plex.add_item(world.sections["Scenes"], file_stem, [plex_path], **extra))
            plex_count += 1
            if i == both_index:
                world.clash_both_sections = scene_id
                keys.append(plex.add_item(world.sections["Archive"], file_stem, [plex_path]))
                plex_count += 1
        world.scene_rating_keys[scene_id] = keys

    for j in range(max(0, plex_items - plex_count)):
        if j % 2 == 0:
            section, path = "Scenes", f"{PLEX_ROOT}/Home Videos/home-video-{j + 1:03d}.mp4"
        else:
            section, path = "Archive", f"{ARCHIVE_ROOT}/misc/archive-clip-{j + 1:03d}.mkv"
        title = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        world.plex_only.append(plex.add_item(world.sections[section], title, [path],
                                             year=2000 + j % 20, summary="Only in Plex."))
    plex.spread_added_dates()  # a real library was scanned over months: date filters see only new items
    return world
