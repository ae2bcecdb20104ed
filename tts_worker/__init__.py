"""Piper TTS worker: a separate program, licensed GPL-3.0-or-later (see LICENSE in this folder).

The server never imports this package; it runs it as a child process and talks to it over pipes
(docs/adr/0002-licence-and-piper-boundary.md).
"""
