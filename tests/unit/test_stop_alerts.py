"""When syncing stops and resumes, said once each (`alerts.stops`), and a crashed pass said at
once by the daemon's watch (`app.watch.PassWatch`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.alerts import stops
from reconciler.alerts.stops import SYNC, TOKENS, Trouble, step
from reconciler.app.notify import Notifier
from reconciler.app.watch import PassWatch
from reconciler.web.health import HealthState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOWN = Trouble("interrupted", "Luminous answered 503", "check Luminous")


def run(troubles, threshold=3):
    episode, said = None, []
    for n, trouble in enumerate(troubles):
        episode, say = step(episode, trouble, now=NOW + timedelta(minutes=n), threshold=threshold)
        said.append(say)
    return episode, said


def test_interrupted_passes_are_said_once_after_the_threshold_and_the_recovery_once():
    episode, said = run([DOWN, DOWN, DOWN, DOWN, None, None])
    assert said == [None, None, "stop", None, "resumed", None]
    assert episode is None


def test_a_short_interruption_is_not_announced_at_all():
    assert run([DOWN, DOWN, None])[1] == [None, None, None]


def test_crashes_and_fatal_stops_are_said_at_once_and_a_new_kind_again():
    crash = Trouble("crashed", "KeyError: 'x'", "a bug")
    fatal = Trouble("fatal", "invalid_grant", "run `reconciler auth connect`")
    _, said = run([crash, crash, fatal, None])
    assert said == ["stop", None, "stop", "resumed"]


def test_the_episode_survives_a_restart_as_json():
    episode, _ = run([DOWN, DOWN, DOWN])
    again = stops.loads(stops.dumps({SYNC: episode}))[SYNC]
    assert again == episode
    assert step(again, None, now=NOW, threshold=3) == (None, "resumed")
    assert stops.loads("not json") == {}


def test_messages_name_the_cause_the_fix_and_how_long_it_lasted():
    episode, _ = run([DOWN, DOWN, DOWN])
    text = stops.stop_message(episode, realm_id="123", track=SYNC)["text"]
    assert "syncing is interrupted" in text and "Luminous answered 503" in text
    assert "*Fix:* check Luminous" in text and "3 pass(es) in a row" in text
    back = stops.resumed_message(episode, realm_id="123", track=SYNC, now=NOW + timedelta(hours=2))
    assert "syncing has resumed" in back["text"] and "after 2h 0m" in back["text"]
    tokens = Trouble("tokens", "disk full", "free space")
    t_episode, say = step(None, tokens, now=NOW, threshold=3)
    assert say == "stop"
    assert (
        "do not stop the daemon"
        in stops.stop_message(t_episode, realm_id="1", track=TOKENS)["text"]
    )


class Alerts:
    def __init__(self):
        self.troubles, self.reports = [], []

    def trouble(self, track, trouble):
        self.troubles.append((track, trouble))

    def after(self, report):
        self.reports.append(report)


class Log:
    def __init__(self):
        self.events = []

    def __getattr__(self, level):
        return lambda event, **kw: self.events.append((level, event, kw))


def test_a_crashed_pass_is_alerted_with_its_cause_and_the_daemon_goes_on():
    alerts, log = Alerts(), Log()

    def crashing(stop_requested):
        raise KeyError("line_key")

    watch = PassWatch(
        crashing,
        health=HealthState(timedelta(minutes=1)),
        notifier=Notifier(None),
        log=log,
        alerts=alerts,
    )
    assert watch.one(lambda: False) is None  # not a reason to stop
    crashed = [t for track, t in alerts.troubles if track == SYNC and t is not None]
    assert crashed and crashed[0].kind == "crashed" and "KeyError" in crashed[0].reason
    assert "bug" in crashed[0].fix
    assert ("error", "pass_crashed") in [(lvl, e) for lvl, e, _ in log.events]
