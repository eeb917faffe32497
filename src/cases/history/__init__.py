"""How recorded events read: history entries and one line of plain English per
event, for every layer that shows a history (ADR 38).
"""
