"""The gateway: sends each input to its boards, collects their top-k RESULTs and votes.

``core`` holds the Gateway itself; ``front`` admits requests from the network, ``endpoints``
drives it from a data split, a UDP listener or a remote client, ``mqtt`` serves it on a broker,
``parts`` runs the strategies' part calls, ``stats``, ``lag`` and ``metrics`` observe it.
Import from the module that owns a name; this package file re-exports nothing, so importing
one part does not load the others.
"""
