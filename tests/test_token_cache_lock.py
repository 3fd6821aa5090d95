"""The token cache's tokenising lock: where it lives, and that it serialises holders."""

from __future__ import annotations

import threading
import time

from verifier.core.train.contained import preparing


def test_the_lock_sits_in_the_cache_and_creates_the_cache(tmp_path):
    cache = tmp_path / "cache"
    with preparing(cache):
        assert cache.is_dir()
        assert (cache / ".prepare.lock").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # nothing beside it


def test_where_the_lock_cannot_be_made_the_run_goes_on_without_it(tmp_path):
    cache = tmp_path / "cache"
    (cache / ".prepare.lock").mkdir(parents=True)  # something that cannot be opened as the lock file
    entered = []
    with preparing(cache):
        entered.append(True)
    assert entered == [True]


def test_a_second_holder_waits_for_the_first(tmp_path):
    cache = tmp_path / "cache"
    events: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with preparing(cache):
            events.append("first in")
            first_in.set()
            time.sleep(0.5)
            events.append("first out")

    def second() -> None:
        first_in.wait(5)
        with preparing(cache):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert events == ["first in", "first out", "second in"]
