import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from service.cache.keys import answer_key, normalize_text
from service.cache.store import FlightClaim, MemoryCache, RedisCache, RedisWrites, redis_client
from tests.support.redis_db import REDIS_URL
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent


class Events:
    def __init__(self):
        self.seen = []

    def cache_event(self, outcome):
        self.seen.append(outcome)


@pytest.fixture
def prefix():
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_normalize_text():
    assert normalize_text("  Down\tJACKET  ") == normalize_text("down jacket")
    assert normalize_text("ＡＢＣ　羽绒服") == "abc 羽绒服"  # full-width folded by NFKC


def test_answer_key_is_stable_and_covers_parts(prefix):
    parts = {"query": "x", "k": 5, "filters": {"a": 1, "b": None}}
    assert answer_key(prefix, "recommend", parts) == answer_key(prefix, "recommend", dict(reversed(parts.items())))
    assert answer_key(prefix, "recommend", parts) != answer_key(prefix, "recommend", {**parts, "k": 6})
    assert answer_key(prefix, "recommend", parts) != answer_key(prefix, "copy", parts)
    assert answer_key(prefix, "recommend", parts).startswith(f"{prefix}:ans:")


def test_redis_cache_hit_miss_and_ttl(prefix):
    events = Events()
    cache = RedisCache(redis_client(REDIS_URL), events=events)
    key = f"{prefix}:k"
    assert cache.get(key) is None
    cache.set(key, b"value", ttl_s=0.3)
    assert cache.get(key) == b"value"
    time.sleep(0.45)
    assert cache.get(key) is None
    assert events.seen == ["miss", "set", "hit", "miss"]
    assert cache.status() == {"backend": "redis", "ok": True}


def test_redis_down_counts_errors_and_answers_none():
    events = Events()
    cache = RedisCache(redis_client("redis://127.0.0.1:1/0", socket_timeout_s=0.2), events=events)
    assert cache.get("k") is None
    cache.set("k", b"v", ttl_s=10)  # no exception
    assert cache.get("k") is None
    assert events.seen and set(events.seen) == {"error"}
    assert cache.status()["ok"] is False


def test_memory_cache_lru_and_ttl():
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1", 10)
    cache.set("b", b"2", 0.2)
    cache.set("c", b"3", 10)  # evicts the least recently used
    assert cache.get("a") is None and cache.get("c") == b"3"
    time.sleep(0.3)
    assert cache.get("b") is None
    cache.set("z", b"x", 0)  # TTL 0 means do not cache
    assert cache.get("z") is None


def test_memory_cache_is_thread_safe():
    cache = MemoryCache(max_entries=100)

    def work(n):
        for i in range(500):
            cache.set(f"{n}-{i % 150}", b"x", 10)
            cache.get(f"{n}-{i % 70}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.status()["entries"] <= 100


def marker_writes(client, key):
    """Commands that mark ``key`` in ``client``'s Redis, counting the pipelines that carried them."""
    pipelines = []

    def queue(pipe):
        pipelines.append(pipe)
        pipe.set(key, b"published", px=60_000)

    return RedisWrites(client, queue), pipelines


def spy_pipelines(client):
    made = []
    original = client.pipeline

    def pipeline(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    client.pipeline = pipeline
    return made


def test_redis_cache_writes_an_answer_with_other_commands_in_one_round_trip(prefix):
    client = redis.Redis.from_url(REDIS_URL)
    events = Events()
    cache = RedisCache(client, events=events)
    writes, carried = marker_writes(client, f"{prefix}:marker")
    made = spy_pipelines(client)
    cache.set_with(f"{prefix}:answer", b"v", 60.0, writes)
    assert len(made) == 1 and carried == made  # the answer and the commands shared one pipeline
    assert client.get(f"{prefix}:answer") == b"v" and client.get(f"{prefix}:marker") == b"published"
    assert 0 < client.pttl(f"{prefix}:answer") <= 60_000 and events.seen == ["set"]
    cache.set_with(f"{prefix}:none", b"v", 0.0, writes)  # nothing to cache: the commands still run
    assert client.get(f"{prefix}:none") is None and len(carried) == 2


def test_commands_for_another_client_run_on_their_own(prefix):
    cache = RedisCache(redis.Redis.from_url(REDIS_URL))
    other = redis.Redis.from_url(REDIS_URL)
    writes, carried = marker_writes(other, f"{prefix}:marker")
    cache.set_with(f"{prefix}:answer", b"v", 60.0, writes)
    assert cache.get(f"{prefix}:answer") == b"v" and other.get(f"{prefix}:marker") == b"published"
    memory = MemoryCache()
    memory.set_with("k", b"v", 60.0, writes)
    assert memory.get("k") == b"v" and len(carried) == 2


def test_a_failed_round_trip_raises_and_counts_the_answer_as_an_error():
    down = redis_client("redis://127.0.0.1:1/0", socket_timeout_s=0.2)
    events = Events()
    writes, _ = marker_writes(down, "marker")
    with pytest.raises(redis.RedisError):
        RedisCache(down, events=events).set_with("k", b"v", 60.0, writes)
    assert events.seen == ["error"]
    memory = MemoryCache()
    with pytest.raises(redis.RedisError):
        memory.set_with("k", b"v", 60.0, writes)
    assert memory.get("k") == b"v"  # written before the round trip that failed


def test_a_miss_takes_the_flights_lock_in_the_round_trip_that_reads_the_answer(prefix):
    client = redis.Redis.from_url(REDIS_URL)
    events = Events()
    cache = RedisCache(client, events=events)

    def claim(token):
        return FlightClaim(client, f"{prefix}:answer:flight", token, 60_000)

    assert cache.get_claiming(f"{prefix}:answer", claim("a")) == (None, True)
    assert client.get(f"{prefix}:answer:flight") == b"a" and 0 < client.pttl(f"{prefix}:answer:flight") <= 60_000
    assert cache.get_claiming(f"{prefix}:answer", claim("b")) == (None, False)  # another caller holds it
    cache.set(f"{prefix}:answer", b"v", 60.0)
    assert cache.get_claiming(f"{prefix}:answer", claim("c")) == (b"v", None)  # a hit asks for nothing
    assert events.seen == ["miss", "miss", "set", "hit"]
    elsewhere = FlightClaim(redis.Redis.from_url(REDIS_URL), f"{prefix}:other:flight", "d", 60_000)
    assert cache.get_claiming(f"{prefix}:other", elsewhere) == (None, None)  # another client's lock: not asked
    assert MemoryCache().get_claiming("k", elsewhere) == (None, None)


def test_a_claiming_read_with_redis_down_is_a_miss_that_asks_for_nothing():
    down = redis_client("redis://127.0.0.1:1/0", socket_timeout_s=0.2)
    events = Events()
    assert RedisCache(down, events=events).get_claiming("k", FlightClaim(down, "k:flight", "t", 1000)) == (None, None)
    assert events.seen == ["error"]


def gated_writes(client, key, gate, *, times=1):
    """:func:`marker_writes` whose first ``times`` round trips wait for ``gate``: a write still on its way."""
    writes, carried = marker_writes(client, key)
    original = client.pipeline
    held = [times]

    def pipeline(*args, **kwargs):
        pipe = original(*args, **kwargs)
        if held[0] > 0:
            held[0] -= 1
            execute = pipe.execute

            def waiting_execute(*a, **k):
                assert gate.wait(10), "the test never released the write"
                return execute(*a, **k)

            pipe.execute = waiting_execute
        return pipe

    client.pipeline = pipeline
    return writes, carried


def held_cache(prefix, *, times=1, **options):
    """A write-behind cache over the real Redis whose first ``times`` round trips wait for the returned gate."""
    client = redis.Redis.from_url(REDIS_URL)
    cache = RedisCache(client, write_behind=True, **options)
    gate = threading.Event()
    writes, carried = gated_writes(client, f"{prefix}:marker", gate, times=times)
    return client, cache, gate, writes, carried


def test_write_behind_answers_before_the_write_lands_and_this_process_reads_it_meanwhile(prefix):
    events = Events()
    client, cache, gate, writes, _ = held_cache(prefix, events=events)
    cache.set_with(f"{prefix}:answer", b"v", 60.0, writes)  # returns with the write still held
    assert redis.Redis.from_url(REDIS_URL).get(f"{prefix}:answer") is None
    assert cache.get(f"{prefix}:answer") == b"v"  # a repeat in this process is a hit meanwhile
    claim = FlightClaim(client, f"{prefix}:answer:flight", "t", 60_000)
    assert cache.get_claiming(f"{prefix}:answer", claim) == (b"v", None)  # and takes no lock
    gate.set()
    cache.flush()
    other = redis.Redis.from_url(REDIS_URL)
    assert other.get(f"{prefix}:answer") == b"v" and other.get(f"{prefix}:marker") == b"published"
    assert 0 < other.pttl(f"{prefix}:answer") <= 60_000
    assert cache._unwritten == {}  # read from Redis from now on
    assert events.seen == ["hit", "hit", "set"]


def test_write_behind_keeps_the_order_of_writes_and_a_newer_answer_is_not_dropped_by_an_older_write(prefix):
    client, cache, gate, writes, _ = held_cache(prefix)
    cache.set_with(f"{prefix}:answer", b"old", 60.0, writes)
    cache.set_with(f"{prefix}:answer", b"new", 60.0, writes)
    assert cache.get(f"{prefix}:answer") == b"new"
    gate.set()
    cache.flush()
    assert client.get(f"{prefix}:answer") == b"new"


def test_a_deleted_answer_is_not_written_back_by_a_write_still_on_its_way(prefix):
    client, cache, gate, writes, carried = held_cache(prefix)
    cache.set_with(f"{prefix}:answer", b"v", 60.0, writes)
    wait_for(lambda: len(carried) == 1)  # its round trip has started: the deletion must wait for it
    threading.Timer(0.2, gate.set).start()  # the write lands while the deletion waits for it
    started = time.monotonic()
    assert cache.delete([f"{prefix}:answer"]) == 1
    assert time.monotonic() - started >= 0.15  # it waited for the write, then deleted what it wrote
    cache.flush()
    assert client.get(f"{prefix}:answer") is None and cache.get(f"{prefix}:answer") is None


def test_a_failed_write_behind_is_counted_as_an_error_and_raises_nothing():
    down = redis_client("redis://127.0.0.1:1/0", socket_timeout_s=0.2)
    events = Events()
    cache = RedisCache(down, events=events, write_behind=True)
    writes, _ = marker_writes(down, "marker")
    cache.set_with("k", b"v", 60.0, writes)  # no exception here, nor from the thread that writes
    cache.flush()
    assert events.seen == ["error"] and cache._unwritten == {}
    assert cache.get("k") is None  # no answer kept that Redis never got


def test_past_max_unwritten_answers_the_next_write_is_made_in_the_request(prefix):
    client, cache, gate, writes, carried = held_cache(prefix, max_unwritten=1)
    cache.set_with(f"{prefix}:first", b"1", 60.0, writes)  # held on its way
    wait_for(lambda: len(carried) == 1)  # the writer holds the one held round trip, not the request below
    cache.set_with(f"{prefix}:second", b"2", 60.0, writes)  # one is on its way already: written here and now
    assert client.get(f"{prefix}:second") == b"2" and client.get(f"{prefix}:first") is None
    gate.set()
    cache.flush()
    assert client.get(f"{prefix}:first") == b"1"


def test_a_deletion_waiting_on_a_hung_write_fails_as_redis_unavailable(prefix):
    client, cache, gate, writes, carried = held_cache(prefix)
    cache.FLUSH_TIMEOUT_S = 0.2
    cache.set_with(f"{prefix}:answer", b"v", 60.0, writes)
    wait_for(lambda: len(carried) == 1)  # the write is on its way (an answer deleted before that is never sent)
    try:
        with pytest.raises(redis.RedisError):  # the API answers 503 "retry the deletion", never a 500
            cache.delete([f"{prefix}:answer"])
    finally:
        gate.set()
    cache.flush()
    assert cache.delete([f"{prefix}:answer"]) == 1  # the retry deletes it


def test_answers_still_on_their_way_are_written_before_the_process_exits(prefix):
    script = f"""
import sys, time, redis
from service.cache.store import RedisCache, RedisWrites
client = redis.Redis.from_url({REDIS_URL!r})
def slow(pipe):
    time.sleep(0.3)  # still on its way when the interpreter starts to exit
    pipe.set({prefix!r} + ":marker", b"published")
RedisCache(client, write_behind=True).set_with({prefix!r} + ":answer", b"v", 60.0, RedisWrites(client, slow))
sys.exit(0)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(REDIS_URL)
    assert client.get(f"{prefix}:answer") == b"v" and client.get(f"{prefix}:marker") == b"published"


def test_writes_made_while_the_writer_is_busy_go_together_in_its_next_round_trip(prefix):
    events = Events()
    client, cache, gate, writes, carried = held_cache(prefix, events=events)
    cache.set_with(f"{prefix}:a", b"a", 60.0, writes)
    wait_for(lambda: len(carried) == 1)  # the writer holds a's round trip
    cache.set_with(f"{prefix}:b", b"b", 60.0, writes)
    cache.set_with(f"{prefix}:c", b"c", 60.0, writes)
    gate.set()
    cache.flush()
    assert len(carried) == 3 and carried[1] is carried[2] is not carried[0]  # b and c: one pipeline
    assert [client.get(f"{prefix}:{k}") for k in "abc"] == [b"a", b"b", b"c"] and events.seen == ["set"] * 3


def test_an_answer_written_now_supersedes_an_older_one_still_on_its_way(prefix):
    client, cache, gate, writes, carried = held_cache(prefix, times=2)
    cache.set_with(f"{prefix}:a", b"held", 60.0, writes)
    wait_for(lambda: len(carried) == 1)  # the writer holds the first round trip
    cache.set_with(f"{prefix}:answer", b"old", 60.0, writes)  # queued behind it
    cache.set(f"{prefix}:answer", b"new", 60.0)  # written in the request (a follower computing for itself)
    assert cache.get(f"{prefix}:answer") == b"new"
    gate.set()
    cache.flush()
    assert client.get(f"{prefix}:answer") == b"new"  # the older write's answer was dropped, its commands ran
    assert client.get(f"{prefix}:marker") == b"published"


def test_a_write_for_another_server_that_fails_does_not_drop_the_rest_of_the_batch(prefix):
    client, cache, gate, writes, carried = held_cache(prefix)
    down_writes, _ = marker_writes(redis_client("redis://127.0.0.1:1/0", socket_timeout_s=0.2), "marker")
    cache.set_with(f"{prefix}:a", b"a", 60.0, writes)
    wait_for(lambda: len(carried) == 1)
    cache.set_with(f"{prefix}:b", b"b", 60.0, down_writes)  # its commands' server is down
    cache.set_with(f"{prefix}:c", b"c", 60.0, writes)
    gate.set()
    cache.flush()
    assert [client.get(f"{prefix}:{k}") for k in "abc"] == [b"a", b"b", b"c"]


def test_an_answer_deleted_before_its_write_started_is_never_sent(prefix):
    client, cache, gate, writes, carried = held_cache(prefix)
    cache.set_with(f"{prefix}:a", b"a", 60.0, writes)
    wait_for(lambda: len(carried) == 1)  # the writer holds a's round trip; b waits in the queue
    cache.set_with(f"{prefix}:b", b"b", 60.0, writes)
    threading.Timer(0.2, gate.set).start()
    assert cache.delete([f"{prefix}:b"]) == 0  # waited for the writer, which then dropped b's answer
    cache.flush()
    assert client.get(f"{prefix}:a") == b"a" and client.get(f"{prefix}:b") is None
    assert len(carried) == 2  # b's flight commands still ran (its lock released)
