"""The monitoring screen: the page at ``/``, its assets and the push channel (SSE).

Wire it into the worker with :func:`streams.screen.views.register_views`.
"""

from streams.screen.views import register_views

__all__ = ["register_views"]
