"""The programme office in the browser: server-rendered pages at ``/`` beside the API.

- ``pages.py``: the routes (sign-in, portfolio, instance, reminders, workflows), mounted on the
  API's FastAPI application by ``mount``; every page asks the same ``Guard`` and service as the
  API, so a page shows only what its visitor may see and offers only what it may do;
- ``migrations.py``: the programme office's migrations pages (a plan checked, then applied),
  included beside the pages by ``adapters/http/app.py``;
- ``visitor.py``: who is asking (the session cookie), in which language, and the CSRF check;
- ``forms.py``: the instance page's action forms, each calling one service command;
- ``diagram.py``: a workflow's state diagram as SVG, drawn here (no browser script);
- ``templates/``: Jinja2 templates (every word from ``engine.workflow.wording``);
- ``static/``: the NL Design System component CSS (vendored with its licence), the neutral
  theme's design tokens and the layout; no script is needed to read or act.
"""
