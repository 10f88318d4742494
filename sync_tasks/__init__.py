"""rcsync's sync engine (no Django here; Django imports this package, never the reverse).

Entry points: :func:`sync_tasks.engine.sync_people` (targeted) and :func:`sync_tasks.engine.reconcile_all`
(everyone, bulk reads), both returning a :class:`sync_tasks.engine.SyncReport`. Inputs are
:class:`sync_tasks.person.SitePerson` values and a :class:`sync_tasks.config.SyncConfig` from
:func:`sync_tasks.config.load_config`. The pure core: ``policy`` -> ``match`` -> ``plan`` (see
``decide``); I/O at the edges: ``observe`` (reads) and ``apply`` (writes). Celery wiring lives in
``sync_tasks.celery`` / ``sync_tasks.tasks``.

Nothing is imported here on purpose: importing ``sync_tasks`` must stay cheap and side-effect free.
"""
