"""Release tooling: `python -m release.build` builds dist/PlexSync.zip and dist/index.yml."""
