"""Entity ids: the one rule that names the entities of every type.

==============  ============================================  ===========================
type            id                                            example
==============  ============================================  ===========================
``component``   ``<component>``                               ``db1``
``resource``    ``<resource>/<component>``                    ``disk/db1``
``connector``   ``<connector>/<connector_name>/connector``    ``nagios/paris/connector``
==============  ============================================  ===========================

In a resource's and a connector's parts, ``%`` is written ``%25`` and ``/``
``%2F`` (:func:`escape`; nothing else changes, so the common names read as
they are: resource ``disk /var`` of ``db1`` is ``disk %2Fvar/db1``). A
component cannot hold ``/`` (:mod:`canopsis.domain.event` refuses it), so its id is
its name. Hence the ``/`` of an id separate its parts: a component id has
none, a resource id one, a connector id two and ends with ``/connector``.
Two entities of different types, or of one type with different names, never
share an id: resource ``nagios`` of component ``n1`` is ``nagios/n1``,
connector ``nagios`` named ``n1`` is ``nagios/n1/connector``.

Ids are opaque strings to the REST API: a client percent-encodes one as a
whole in a URL (``disk %2Fvar/db1`` is ``disk%20%252Fvar%2Fdb1``).

Canopsis before this rule named a connector ``<connector>/<connector_name>``
and a resource ``<resource>/<component>`` without escaping:
:mod:`canopsis.ops.schema` moves a database of that time to this rule once.
"""

#: the last part of a connector's id
CONNECTOR_SUFFIX = "connector"


def escape(part: str) -> str:
    """``part`` with ``%`` written ``%25`` and ``/`` written ``%2F``."""
    return part.replace("%", "%25").replace("/", "%2F")


def component_id(component: str) -> str:
    return component


def resource_id(resource: str, component: str) -> str:
    return f"{escape(resource)}/{component}"


def connector_id(connector: str, connector_name: str) -> str:
    return f"{escape(connector)}/{escape(connector_name)}/{CONNECTOR_SUFFIX}"
