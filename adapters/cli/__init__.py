"""The commands of the ``wijkkompas`` command line, grouped by noun; ``cli.py`` assembles them.

``cli.py`` keeps the root group (its global options and the mapping of errors to exit codes)
and adds the groups and commands defined here:

    workflow.py    workflow files: validate, list, show, diagram, timeline, schema, versions
    instance.py    instances: create, import, list, show, rebuild
    record.py      what happens to an instance: milestone, gate, advance, return, pause,
                   resume, handover, stop, note
    overview.py    the record and the overview: log, audit, status
    reminders.py   reminders, the outbox and the scheduler
    database.py    the database schema (db) and the demo programme
    shared.py      what they share: parameter types, printers, the application of a context

Each command parses, calls the application that ``engine/compose.py`` built, and prints. These
modules import click and the engine's service API, never ``engine.persistence`` and never
``cli.py``; heavy libraries are imported inside the commands that use them.
"""
