"""``reconciler fleet``: every list of every campaign of many tenants, in one process or in shards.

Modules, in the order a fleet run uses them: ``file`` (the fleet file, validated in one place),
``shards`` (which tenants a shard runs), ``configs`` (a target's ``ReconcileConfig`` and its
credentials), ``discover`` (targets from Get Campaigns), ``ledger`` (what a killed fleet had
finished), ``run`` (the targets run, one rate budget per tenant), ``report`` (the JSON fleet
report) and ``command`` (the CLI adapter). Built on ``reconciler.wiring``; nothing below imports it.
"""
