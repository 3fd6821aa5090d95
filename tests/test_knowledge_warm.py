"""The web server warms the knowledge engine at start, so the first search does not load the model."""

from __future__ import annotations

import logging

import pytest

from knowledge import engine
from knowledge.core import embedding


@pytest.mark.django_db
def test_warm_in_background_loads_the_model_and_opens_the_store(tmp_path, settings, caplog):
    settings.GENESYS_KNOWLEDGE_DIR = str(tmp_path / "store")
    engine.forget_instances()
    try:
        with caplog.at_level(logging.INFO, logger="knowledge.engine"):
            thread = engine.warm_in_background()
            thread.join(timeout=300)
        assert not thread.is_alive()
        assert "knowledge engine warm in" in caplog.text
        assert embedding._models  # the embedding model is loaded in this process
        assert engine.knowledge_base().stats() == {"papers": 0, "chunks": 0}
        assert (tmp_path / "store").is_dir()
    finally:
        engine.forget_instances()


@pytest.mark.django_db
def test_a_store_that_cannot_be_opened_is_logged_not_raised(tmp_path, settings, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store should be")
    settings.GENESYS_KNOWLEDGE_DIR = str(blocker)
    engine.forget_instances()
    try:
        with caplog.at_level(logging.ERROR, logger="knowledge.engine"):
            engine.warm_in_background().join(timeout=300)
        assert "could not warm the knowledge engine" in caplog.text
    finally:
        engine.forget_instances()
