"""The pbehaviors, in the ``pbehaviors`` collection (see :mod:`canopsis.domain.pbehavior`).

The REST API writes them (as documents kept by ``_id``, :mod:`canopsis.store.documents`);
the pbehavior engine reads them all at each reload.
"""

COLLECTION = "pbehaviors"
