"""The benchmark scripts work at tiny sizes (no timing assertions: figures belong in BENCHMARKS.md)."""
from __future__ import annotations

from bench import hook_latency, memory
from bench.common import Stats, write_section


def test_hook_latency_runs_every_kind():
    results, warmup = hook_latency.measure(runs=2, warmup=1, bulk_runs=0)
    stats = results["after"]
    assert set(stats) == {"bare", "filtered", "recorded", "recorded_queued"}
    assert all(wall.runs == 2 and wall.minimum > 0 and cpu.minimum > 0 for wall, cpu in stats.values())
    text = hook_latency.section(results, warmup)
    assert "python -m bench.hook_latency" in text and "vs bare python" in text


def test_hook_latency_compares_with_older_code_and_times_a_bulk_edit(tmp_path):
    """--before: the same kinds measured for another checkout (here the same tree) plus the bulk edit."""
    from tests.conftest import REPO_ROOT
    results, warmup = hook_latency.measure(runs=1, warmup=0, before=REPO_ROOT, bulk_runs=1)
    assert set(results) == {"after", "before"}
    assert results["before"]["bulk"][0].runs == 1 and results["after"]["bulk"][0].minimum > 0
    text = hook_latency.section(results, warmup)
    assert "after / before" in text and "Bulk edit of 100 scenes" in text


def test_memory_syncs_every_scene_and_reports_peak_rss():
    result = memory.measure(plex_items=300, scenes=10)
    assert result.peak_rss_mb > 0
    assert "8 synced" in result.synced and "2 low confidence" in result.synced  # the seeded clashes
    assert "150 MB" in memory.section(result)


def test_sections_are_replaced_in_place_and_others_kept(tmp_path):
    path = str(tmp_path / "BENCHMARKS.md")
    order = ("hook_latency", "bulk_sync", "memory")
    write_section("memory", "## Memory\nold", path=path, order=order)
    write_section("bulk_sync", "## Bulk\nfrom the other script", path=path, order=order)
    write_section("hook_latency", "## Hook\nfirst", path=path, order=order)
    write_section("memory", "## Memory\nnew", path=path, order=order)
    text = open(path, encoding="utf-8").read()
    assert "old" not in text and "new" in text and "from the other script" in text
    assert text.index("## Hook") < text.index("## Bulk") < text.index("## Memory")


def test_stats():
    s = Stats.of([0.3, 0.1, 0.2, 0.4])
    assert (s.minimum, s.maximum, s.median, s.runs) == (0.1, 0.4, 0.25, 4)


def test_coverage_bench_times_the_task():
    from bench import coverage
    result = coverage.measure(scenes=30, runs=1)
    assert result["marked"] == 29 and len(result["walls"]) == 1  # the seed leaves one scene without a Plex item
    assert "29 synced" in result["line"]
    assert "python -m bench.coverage" in coverage.section(result)


def test_collections_bench_measures_collection_requests_and_an_unchanged_rerun():
    from bench import collections as coll_bench
    results = coll_bench.measure(runs=1, scenes=20, plex_items=60, latency_ms=0)
    base, first, again = results[0]
    assert base.collection_requests == 0 and first.collections > 0 and first.collection_requests > 0
    assert again.plex_requests == 0
    assert "python -m bench.collections" in coll_bench.section(results, 20, 60, 0)


def test_artwork_bench_compares_crops_and_times_each_mode():
    from bench import artwork
    result = artwork.measure(frames=3)
    assert set(result["kept"]) == {"centre", "subject"} and len(result["times"]["blur"]) == 3
    assert "python -m bench.artwork" in artwork.section(result)


def test_sync_all_large_bench_times_unchanged_runs_and_splits_the_cpu():
    from bench import sync_all_large
    result = sync_all_large.measure(scenes=30, plex_items=40, runs=1)
    run = result.runs[0]
    assert result.first_synced == 28  # the seed's two clashes stay for review
    assert (run.checked, run.queued, run.plex_requests) == (30, 0, 0)
    assert run.plugin_cpu > 0 and run.peak_rss_mb > 0
    text = sync_all_large.section(result)
    assert "python -m bench.sync_all_large" in text and "under 10 s" in text and "not measured here" in text


def test_sync_all_large_bench_compares_with_older_code_and_the_simulator_alone():
    """--before: both plugins alternating on identical sandboxes (here the same tree twice), and each
    checkout's simulated Stash serving the listing in-process."""
    from bench import sync_all_large
    from tests.conftest import REPO_ROOT
    both = sync_all_large.compare(REPO_ROOT, scenes=20, plex_items=30, runs=1)
    assert [len(both[k].runs) for k in ("before", "after")] == [1, 1]
    listing = sync_all_large.simulator_listing(REPO_ROOT, 20)
    assert listing["scenes"] == 20 and listing["pages"] == 1
    text = sync_all_large.section(both["after"], both, {"before": listing, "after": listing})
    assert "after / before" in text and "The simulated Stash alone" in text
