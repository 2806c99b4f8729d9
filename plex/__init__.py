"""Plex side of PlexSync: connection and errors (client), path keys (paths), the path index (index),
item URL pins (pin), matching with confidence (matcher), review lines (review), edits (writer)."""
