"""What a run shows a person: plots during training and the report at the end."""


def spread_evenly(items: list, count: int) -> list:
    """`count` items evenly spread from first to last (all of them when there are fewer)."""
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


MAX_CLASS_COLUMNS = 20  # the most classes a grid of images gives a column each


def class_columns(classes: int) -> int | None:
    """The columns of a grid of a class-conditional G's samples, one per class (sample i is of
    class i mod K), or None when there is no class (0) or more than fit a row."""
    return classes if 2 <= classes <= MAX_CLASS_COLUMNS else None
