"""The hook path: filter an update, record the scene as pending, make sure a drain is scheduled.

Standard library only: this runs inside the user's Save request, once per scene.
"""
