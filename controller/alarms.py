"""The built-in alarm feed: periodic and one-off trigger fires on APScheduler.

Three feeds, named as in OpenWhisk's alarms package:

- ``/whisk.system/alarms/alarm``    ``cron`` (5 fields, or 6 with seconds first), optional
  ``timezone``, ``startDate``, ``stopDate``;
- ``/whisk.system/alarms/interval`` ``minutes`` (OpenWhisk), or ``seconds`` (a Tango extension
  for short tests), optional ``startDate``, ``stopDate``;
- ``/whisk.system/alarms/once``     ``date`` (ISO 8601 or epoch ms).

Each takes ``trigger_payload`` (an object, or JSON text of one) as the payload of every fire.
Two ways in, one code path (``parse_feed`` then ``AlarmFeed.register``): wsk's feed protocol —
the trigger is PUT with a ``feed`` annotation, then the feed *action* is invoked with
``lifecycleEvent`` CREATE / READ / UPDATE / DELETE / PAUSE / UNPAUSE (``controller.feeds``) — and
Tango's one-step form, a trigger PUT that carries the feed's parameters along with the annotation
(the triggers blueprint; the feed parameters configure the job and are not kept as trigger
parameters). Deleting the trigger removes its job either way.

Jobs live in the controller's own database (table ``apscheduler_jobs``, created by migration
0002, never by APScheduler), so they survive controller restarts. Misfire policy, set on every
job: ``coalesce=True`` and ``misfire_grace_time=60`` s — fires missed while no controller ran
(or while the scheduler was late) collapse into one fire, made when the controller is back if
the latest missed time is at most 60 s old; older ones are skipped and the schedule goes on
(a ``once`` alarm missed by more than 60 s is dropped). ``max_instances=1``: a fire due while the previous one
still runs is skipped (and logged by APScheduler), never overlapped. APScheduler stores the next run
time right after handing a fire to its executor, so a controller killed in that instant may fire
that one alarm again after a restart; nothing else duplicates.

APScheduler 3 does not coordinate several schedulers on one store, so on a shared PostgreSQL
store only the controller holding the alarm leadership fires (``controller.alarm_leader``): every
controller's alarm scheduler runs paused and can manage jobs; the leader's runs. SQLite: the one
controller leads; ``tango controller --no-alarms`` never does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from controller.errors import ApiError

log = logging.getLogger("tango.alarms")

FEED_NAMESPACE = "whisk.system"
FEEDS = ("alarms/alarm", "alarms/interval", "alarms/once")
FEED_PARAMETERS = {
    "cron",
    "timezone",
    "minutes",
    "seconds",
    "date",
    "startDate",
    "stopDate",
    "trigger_payload",
    "deleteAfterFire",
    "maxTriggers",
    "fireOnce",
}
JOBSTORE = "alarms"
MISFIRE_GRACE_S = 60
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm's schedule and payload, as given to the feed."""

    feed: str  # alarm | interval | once
    payload: dict = field(default_factory=dict)
    cron: str | None = None
    timezone: str | None = None
    seconds: int | None = None  # interval length
    date: datetime | None = None  # once
    start: datetime | None = None
    stop: datetime | None = None


# ---- parsing (pure) -------------------------------------------------------------------------


def feed_of(feed_name: str) -> str | None:
    """``alarm|interval|once`` for a feed annotation naming a built-in feed, else None."""
    parts = feed_name.strip("/").split("/")
    if parts[0] == "_" or len(parts) != 3:
        return None
    if parts[0] == FEED_NAMESPACE and "/".join(parts[1:]) in FEEDS:
        return parts[2]
    return None


def parse_feed(feed_name: str, params: dict) -> tuple[AlarmSpec, dict]:
    """The alarm for a trigger created with ``feed_name`` and ``params``, and the parameters
    that are the trigger's own (not the feed's). Raises 400 errors naming the bad parameter."""
    kind = feed_of(feed_name)
    if kind is None:
        accepted = ", ".join(f"/{FEED_NAMESPACE}/{f}" for f in FEEDS)
        raise ApiError(
            400, f"The feed '{feed_name}' is not provided by this platform (available: {accepted})."
        )
    own = {k: v for k, v in params.items() if k not in FEED_PARAMETERS}
    payload = _payload(params.get("trigger_payload"))
    start, stop = _date(params, "startDate"), _date(params, "stopDate")
    if kind == "alarm":
        cron = params.get("cron")
        if not isinstance(cron, str) or len(cron.split()) not in (5, 6):
            raise ApiError(
                400,
                "The alarm feed needs 'cron': a cron expression of 5 fields "
                '(minute hour day month weekday) or 6 (seconds first), e.g. "*/5 * * * *".',
            )
        spec = AlarmSpec(
            "alarm", payload, cron=cron, timezone=params.get("timezone"), start=start, stop=stop
        )
    elif kind == "interval":
        spec = AlarmSpec(
            "interval", payload, seconds=_interval_seconds(params), start=start, stop=stop
        )
    else:
        date = _date(params, "date")
        if date is None:
            raise ApiError(
                400,
                "The once feed needs 'date': when to fire (ISO 8601, e.g. "
                '"2030-01-01T00:00:00Z", or epoch milliseconds).',
            )
        spec = AlarmSpec("once", payload, date=date)
    schedule_of(spec)  # surface a bad cron field or time zone now, as a 400
    return spec, own


def _interval_seconds(params: dict) -> int:
    for key, scale in (("seconds", 1), ("minutes", 60)):
        if params.get(key) is not None:
            value = params[key]
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ApiError(
                    400,
                    f"The interval feed's '{key}' must be a whole number of at least 1, "
                    f"got {json.dumps(value)}.",
                )
            return value * scale
    raise ApiError(400, "The interval feed needs 'minutes' (or 'seconds'): how often to fire.")


def _payload(value) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(
                400, "'trigger_payload' must be a JSON object (or the JSON text of one)."
            ) from None
    if not isinstance(value, dict):
        raise ApiError(400, "'trigger_payload' must be a JSON object (or the JSON text of one).")
    return value


def _date(params: dict, key: str) -> datetime | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise ApiError(
            400,
            f"'{key}' must be a date: ISO 8601 (e.g. \"2030-01-01T00:00:00Z\") or epoch "
            f"milliseconds, got {json.dumps(value)}.",
        ) from None


def cron_weekdays(field_text: str) -> str:
    """Crontab weekday numbers (0 or 7 = Sunday) as names, since APScheduler 3 counts from Monday."""
    return re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda m: WEEKDAYS[int(m.group(1))], field_text)


def schedule_of(spec: AlarmSpec):
    """The APScheduler trigger for an alarm."""
    try:
        if spec.feed == "once":
            return DateTrigger(run_date=spec.date)
        if spec.feed == "interval":
            return IntervalTrigger(
                seconds=spec.seconds, start_date=spec.start, end_date=spec.stop, timezone=UTC
            )
        assert spec.cron is not None, "an alarm has its cron (parse_feed checks it)"
        fields = spec.cron.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        second, minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            start_date=spec.start,
            end_date=spec.stop,
            timezone=spec.timezone or UTC,
        )
    except (ValueError, LookupError) as exc:
        raise ApiError(400, f"The alarm schedule is not valid: {exc}.") from None


# ---- the job and its executor ---------------------------------------------------------------

# A job in the persistent store names a module-level function and plain arguments; the running
# feed of each database registers its fire callback here under a key derived from the URL.
_FIRE_CALLBACKS: dict[str, Callable[[str, str, dict], None]] = {}
_CALLBACKS_LOCK = threading.Lock()


def fire_alarm(
    store_key: str, namespace: str, trigger: str, payload: dict, config: dict | None = None
) -> None:
    """The job APScheduler runs: fire the trigger through the feed that owns the store.
    ``config`` (the feed parameters as given) rides along only for the feed's READ."""
    callback = _FIRE_CALLBACKS.get(store_key)
    if callback is None:
        log.warning("alarm for /%s/%s is due but no feed runs for its store", namespace, trigger)
        return
    callback(namespace, trigger, payload)


def job_id(namespace: str, trigger: str) -> str:
    return f"alarm:{namespace}/{trigger}"


class AlarmFeed:
    """Registers alarm jobs on the controller's alarm scheduler, in a job store on its database.
    The scheduler fires only while this controller leads (``controller.alarm_leader``)."""

    def __init__(
        self, scheduler: BaseScheduler, engine: Engine, fire: Callable[[str, str, dict], None]
    ):
        self.scheduler = scheduler
        self.store_key = hashlib.sha256(str(engine.url).encode()).hexdigest()[:16]
        self._fire = fire
        self.claim()
        try:
            scheduler.add_jobstore(SQLAlchemyJobStore(engine=engine), JOBSTORE)
        except ValueError:  # this scheduler already has the store (a second app on one Services)
            pass

    def claim(self) -> None:
        """Make this feed the one that fires its store's alarms in this process (called when its
        controller becomes the leader: several controllers of one store may share a process)."""
        with _CALLBACKS_LOCK:
            _FIRE_CALLBACKS[self.store_key] = self._fire

    def register(
        self, namespace: str, trigger: str, spec: AlarmSpec, config: dict | None = None
    ) -> None:
        """Create or replace the trigger's job; ``config``: the feed parameters, for READ."""
        self.scheduler.add_job(
            fire_alarm,
            schedule_of(spec),
            args=[self.store_key, namespace, trigger, spec.payload],
            kwargs={"config": config},
            id=job_id(namespace, trigger),
            name=f"/{namespace}/{trigger}",
            jobstore=JOBSTORE,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_S,
            max_instances=1,
        )

    def unregister(self, namespace: str, trigger: str) -> bool:
        try:
            self.scheduler.remove_job(job_id(namespace, trigger), JOBSTORE)
            return True
        except JobLookupError:
            return False

    def describe(self, namespace: str, trigger: str) -> dict | None:
        """The alarm as the feed's READ shows it: ``{config, status}``, or None without a job."""
        job = self.scheduler.get_job(job_id(namespace, trigger), JOBSTORE)
        if job is None:
            return None
        config = job.kwargs.get("config") or {"trigger_payload": job.args[3]}
        next_run = job.next_run_time
        return {
            "config": {"name": trigger, "namespace": namespace, **config},
            "status": {
                "active": next_run is not None,
                "nextFire": next_run.isoformat() if next_run else None,
            },
        }

    def set_active(self, namespace: str, trigger: str, active: bool) -> bool:
        """Resume or pause the trigger's job (the feed's UNPAUSE / PAUSE); False without a job."""
        try:
            if active:
                self.scheduler.resume_job(job_id(namespace, trigger), JOBSTORE)
            else:
                self.scheduler.pause_job(job_id(namespace, trigger), JOBSTORE)
            return True
        except JobLookupError:
            return False
