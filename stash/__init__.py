"""How PlexSync talks to the Stash that started it: stdin/stdout, the stderr log protocol, GraphQL.

Everything here uses the standard library only, because the hook path imports it on every scene save.
"""
