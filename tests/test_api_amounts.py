"""Amounts in the API: each one an integer in minor units (`total_minor`), the ISO currency code
on the same object (`currency`) and the display string (`total`), as Stripe and Lago answer
(api.base.AmountsMixin). Held over the whole schema, so no future amount forgets one, and over
api/examples.json, whose `_minor` integers must be the display strings' digits."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from api.base import AMOUNT_PATTERN, AmountField, AmountsMixin
from api.schema import EXAMPLES
from billing.domain.money import parse_amount

# A string property with one of these names (or ending in `_<name>`) is an amount, however it is
# declared: it needs its `_minor` integer beside it. (`tax_rate`, `tax_kind` end otherwise.)
AMOUNT_NAMES = ("amount", "total", "subtotal", "tax", "price", "balance", "credited", "credit_applied", "due")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def objects(node, where="#"):
    """Every object schema in `node` with properties, inline ones in the paths included (the
    examples are answers, not schemas): (where, properties)."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield where, node["properties"]
        for key, value in node.items():
            if key != "example":
                yield from objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from objects(value, f"{where}/{index}")


def is_amount(name: str, prop: dict) -> bool:
    if prop.get("type") != "string":
        return False
    return prop.get("pattern") == AMOUNT_PATTERN or any(
        name == word or name.endswith(f"_{word}") for word in AMOUNT_NAMES
    )


def test_every_amount_in_the_schema_has_its_minor_units_and_currency_beside_it(schema):
    found, wrong = [], []
    for where, properties in objects(schema):
        for name, prop in properties.items():
            if not is_amount(name, prop):
                continue
            found.append(f"{where}.{name}")
            minor = properties.get(f"{name}_minor", {})
            if minor.get("type") != "integer":
                wrong.append(f"{where}.{name}: no integer {name}_minor")
            elif "in minor units of `currency`" not in minor.get("description", ""):
                wrong.append(f"{where}.{name}_minor: undocumented")
            if properties.get("currency", {}).get("type") != "string":
                wrong.append(f"{where}.{name}: no currency on its object")
    assert wrong == []
    # The walk reaches the amounts (were it to find none, it would hold nothing).
    assert len(found) >= 30, found
    assert "#/components/schemas/SettlementLine.amount" in found, found


def test_every_minor_units_integer_has_its_currency_beside_it(schema):
    wrong = [
        f"{where}.{name}"
        for where, properties in objects(schema)
        for name, prop in properties.items()
        if name.endswith("_minor") and (prop.get("type") != "integer" or "currency" not in properties)
    ]
    assert wrong == []


def test_an_amount_field_refuses_a_serializer_without_the_mixin():
    from rest_framework import serializers

    class Bare(serializers.Serializer):
        total = AmountField(source="total_minor")

    class Paired(AmountsMixin, serializers.Serializer):
        total = AmountField(source="total_minor")

    with pytest.raises(TypeError, match="AmountsMixin"):
        Bare({"total_minor": 1}, context={"currency": "EUR"}).data  # noqa: B018
    assert Paired({"total_minor": 2419}, context={"currency": "EUR"}).data == {
        "currency": "EUR",
        "total": "24.19",
        "total_minor": 2419,
    }
    assert Paired({"total_minor": 2419, "currency": "JPY"}).data == {
        "currency": "JPY",
        "total": "2419",
        "total_minor": 2419,
    }


def pairs(node, currency=None):
    """(display string, minor units, currency) of every amount in an example."""
    if isinstance(node, list):
        for value in node:
            yield from pairs(value, currency)
    elif isinstance(node, dict):
        currency = node.get("currency", currency)
        for name, value in node.items():
            if isinstance(value, str) and f"{name}_minor" in node:
                yield value, node[f"{name}_minor"], node.get("currency")
            yield from pairs(value, currency)


def test_the_examples_minor_units_are_their_display_strings(schema):
    examples = json.loads(EXAMPLES.read_text())["responses"]
    seen = 0
    for name, example in examples.items():
        for shown, minor, currency in pairs(example):
            seen += 1
            assert currency, f"{name}: {shown} without a currency"
            if re.fullmatch(AMOUNT_PATTERN, shown):
                assert parse_amount(shown, currency) == minor, (name, shown, minor)
            else:  # the settlement lines' display for people: '-€145.16'
                assert int(re.sub(r"[^\d-]", "", shown)) == minor, (name, shown, minor)
    assert seen >= 50
