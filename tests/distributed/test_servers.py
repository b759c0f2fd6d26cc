"""The server fixtures themselves: each test's namespace is its own and is cleaned after,
and a private redis-server can be stopped and started again on the same port."""

import psycopg
import pytest
import redis
from servers import RedisServer

LEFTOVER: list[str] = []


def test_a_prefix_is_unique_and_usable(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set(f"{redis_prefix}a", "1")
    assert client.get(f"{redis_prefix}a") == b"1"
    LEFTOVER.append(redis_prefix)
    client.close()


def test_the_previous_tests_keys_are_gone(redis_url: str, redis_prefix: str) -> None:
    assert LEFTOVER, "runs after test_a_prefix_is_unique_and_usable"
    assert redis_prefix not in LEFTOVER
    client = redis.Redis.from_url(redis_url)
    assert list(client.scan_iter(match=f"{LEFTOVER[0]}*")) == []
    client.close()


def test_a_private_server_restarts_on_its_port_empty(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    client.set("k", "v")
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    redis_server.start()
    assert client.get("k") is None  # reconnected, and nothing was kept
    client.close()


def test_a_database_is_made_for_the_test(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        row = conn.execute("SELECT current_database(), count(*) FROM t").fetchone()
    assert row is not None
    assert row[0].startswith("otpgen_test_")
    assert row[1] == 1
    LEFTOVER.append(row[0])


def test_the_previous_tests_database_is_dropped(postgres_dsn: str) -> None:
    made = [name for name in LEFTOVER if name.startswith("otpgen_test_")]
    assert made, "runs after test_a_database_is_made_for_the_test"
    with psycopg.connect(postgres_dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (made[0],)
        ).fetchone()
    assert found == (0,)
