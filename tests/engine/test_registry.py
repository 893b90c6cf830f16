"""engine.registry: eviction waits for busy work; the sweeper evicts idle clips; close_all."""

from __future__ import annotations

import threading
import time

import pytest

from lookgrid.errors import UnknownClipError

from engine_clips import fg_bg_spec


def test_no_eviction_while_busy_and_the_last_one_out_evicts(engine):
    clips = engine.clips
    clip = engine.open_clip(fg_bg_spec())
    clips.ttl_s = 0.0
    clip.last_used -= 1.0
    with clips.busy():
        assert clips.evict_if_idle() == []
        assert engine.get_clip(clip.id) is clip
        clip.last_used -= 1.0   # get_clip marked it used
    # leaving the busy block evicted it
    with pytest.raises(UnknownClipError, match="evicted after"):
        engine.get_clip(clip.id)


def test_sweeper_and_close_all(engine):
    clips = engine.clips
    a, b = engine.open_clip(fg_bg_spec()), engine.open_clip(fg_bg_spec())
    clips.ttl_s = 0.05
    clips.start_sweeper(0.02)
    try:
        deadline = time.time() + 5
        while clips.ids() and time.time() < deadline:
            time.sleep(0.02)
        assert clips.ids() == []
    finally:
        clips.stop_sweeper()
    c = engine.open_clip(fg_bg_spec())
    clips.ttl_s = 600
    clips.close_all("closed because the server shut down")
    with pytest.raises(UnknownClipError, match="server shut down"):
        engine.get_clip(c.id)
    with pytest.raises(UnknownClipError, match="evicted"):
        engine.get_clip(a.id)
    assert b.id not in clips.ids()


def test_eviction_waits_for_a_busy_call_to_finish(engine):
    clips = engine.clips
    clip = engine.open_clip(fg_bg_spec())
    clips.ttl_s = 0.0
    inside, release = threading.Event(), threading.Event()

    def work():
        with clips.busy():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=work)
    t.start()
    inside.wait(5)
    clip.last_used -= 1.0
    assert clips.evict_if_idle() == [] and clip.id in clips.ids()
    release.set()
    t.join(5)
    assert clip.id not in clips.ids()
