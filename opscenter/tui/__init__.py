"""The console: a keyboard-first Textual app that talks only to a Backend."""
