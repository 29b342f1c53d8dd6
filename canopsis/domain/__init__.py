"""Domain: the documents canopsis keeps and the pure rules over them.

Events, alarms, entities and their ids, matching, maintenance (pbehaviors),
heartbeats, metrics, event-filter rules, users and keys.
"""
