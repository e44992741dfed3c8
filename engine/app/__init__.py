"""The application: the service (one unit of work per command), the projection it keeps in the
store, the read models and reports, audit, settings and the demo programme."""
