"""What a run shows a person: plots during training and the report at the end."""


def spread_evenly(items: list, count: int) -> list:
    """`count` items evenly spread from first to last (all of them when there are fewer)."""
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]
