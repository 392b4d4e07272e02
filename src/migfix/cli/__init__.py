"""The edges a user types at: the click group and its options, the Flask group, the pytest plugin.

May import every layer below it; nothing imports it.
"""
