"""The gateway: sends each input to its boards, collects their top-k RESULTs and votes.

``core`` holds the Gateway itself and ``answer`` what it hands out (``Answer``, ``Board``);
``front`` admits requests from the network, ``udp_server`` serves them over UDP and ``mqtt`` on
a broker (``serve`` starts either), ``batch`` drives the gateway from a data split or an image
folder; ``client`` is the reference client and ``loadtest`` the load client (``vp-edge load``),
``fleet_client`` and ``broker`` the MQTT side; ``parts`` runs the strategies' part calls;
``stats``, ``lag`` and ``metrics`` observe it.
Import from the module that owns a name; this package file re-exports nothing, so importing
one part does not load the others.
"""
