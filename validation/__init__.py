"""Settings, and the mapping of Stash scenes to Plex fields."""
