"""Webhooks: signed deliveries of change events to subscribed HTTP endpoints.

- :mod:`~promptvault.webhooks.signing`: Standard Webhooks signatures and secrets.
- :mod:`~promptvault.webhooks.addresses`: which URLs and addresses may be reached (SSRF).
- :mod:`~promptvault.webhooks.transport`: POSTs over kept-alive connections to checked addresses.
- :mod:`~promptvault.webhooks.formats`: the ``standard`` and ``slack`` bodies.
- :mod:`~promptvault.webhooks.feed`: where change events are read from.
- :mod:`~promptvault.webhooks.service`: subscriptions, delivery log, test and redelivery.
- :mod:`~promptvault.webhooks.dispatcher`: the background sender, one per database.
"""
