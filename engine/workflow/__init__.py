"""The definition of a workflow: its file format, safe YAML with positions, loading, validation,
the search path of workflow files, the working-day calendar, the dry-run timeline, text views and
the JSON Schema. Nothing here knows a running instance."""
