"""The event-filter rules, in ``eventfilter_rules`` (see :mod:`canopsis.domain.eventfilter`).

The REST API writes them (as documents kept by ``_id``, :mod:`canopsis.store.documents`);
the event_filter engine reads them and writes its counters and errors into them.
"""

COLLECTION = "eventfilter_rules"
