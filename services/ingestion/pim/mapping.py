"""The retailer's mapping file (``TWINWEAR_PIM_MAPPING``, TOML): how each PIM's attributes become
twinwear's canonical look. ``mapping.example.toml`` next to this module documents every key.

A field rule is either an attribute name (``title = "name"``) or a table::

    garment_type = { attribute = "family", map = { tshirts = "t-shirt" }, default = "..." }
    brand = { value = "Northwind" }          # a constant

Each vendor module turns a PIM product into a :class:`ProductView` (attribute name -> value); the
rules here are the same for every PIM.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

from services.ingestion.pim.canonical import Colour, Garment, LookFields, Range, Unmappable, VariantFields

GARMENT_TYPES = (
    "t-shirt", "long-sleeve-top", "shirt", "knitwear", "tank", "dress", "skirt", "trousers", "shorts", "jacket",
)  # fmt: skip
SLEEVE_LENGTHS = ("none", "cap", "short", "elbow", "three-quarter", "long")
LENGTHS = ("cropped", "hip", "thigh", "knee", "midi", "ankle", "floor")
FITS = ("regular", "slim", "loose", "oversized")
CHANNELS = ("ecommerce", "social", "print", "ooh")
IMAGE_ROLES = ("flat_lay", "ghost_mannequin", "back", "detail", "swatch")
MEASURES = ("chest_girth", "waist_girth", "hip_girth", "inside_leg")
# What the imagery depends on; a change to anything else (price, stock, copy) renders nothing new.
IMAGERY_ATTRIBUTES = ("images", "colour", "garment", "size_chart")
SOURCES = ("akeneo", "akeneo-event-platform", "akeneo-rest", "salsify", "shopify")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*$")


class MappingError(ValueError):
    """The mapping file is wrong; the message names the key."""


class ProductView(Protocol):
    """One PIM product (one variant) as attribute name -> value (str, bool, int, Decimal, list)."""

    def get(self, attribute: str) -> object: ...


@dataclass(frozen=True)
class FieldRule:
    attribute: str = ""
    values: MappingType[str, str] | None = None
    default: str | None = None
    constant: str | None = None

    def raw(self, view: ProductView) -> object:
        if self.constant is not None:
            return self.constant
        value = view.get(self.attribute)
        return self.default if value is None or value == "" or value == [] else value

    def one(self, view: ProductView, what: str, required: bool = False, lenient: bool = False) -> str:
        """The rule's value as one string, mapped; '' when absent and not required. ``lenient``:
        a value the map does not name is kept as it is rather than refused."""
        value = self.raw(view)
        if isinstance(value, list):  # e.g. categories: the first one the map names
            texts = [_text(v) for v in value if v not in (None, "")]
            named = [t for t in texts if self.values is None or t in self.values]
            if texts and not named and self.default is None and not lenient:
                listed = ", ".join(f"'{t}'" for t in texts)
                raise Unmappable(f"{self.attribute} {listed}: none has a {what} in the mapping")
            value = (named or texts or [None])[0]
        if value is None or value == "":
            if required:
                raise Unmappable(f"{self.attribute or what} is empty: {what} is required")
            return ""
        text = _text(value)
        if self.values is None or self.constant is not None:
            return text
        if text in self.values:
            return self.values[text]
        if self.default is not None:
            return self.default
        if lenient:
            return text
        raise Unmappable(f"{self.attribute} '{text}' has no {what} in the mapping")

    def many(self, view: ProductView) -> tuple[str, ...]:
        """Every value, mapped; values the map does not name are left out."""
        value = self.raw(view)
        if value is None or value == "":
            return ()
        items = value if isinstance(value, list) else [part.strip() for part in _text(value).split(",")]
        texts = [_text(v) for v in items if v not in (None, "")]
        if self.values is not None:
            texts = [self.values[t] for t in texts if t in self.values]
        return tuple(dict.fromkeys(texts))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "amount" in value:  # an Akeneo metric
        return str(value["amount"])
    return str(value).strip()


@dataclass(frozen=True)
class SourceMapping:
    """One PIM's section of the mapping file."""

    source: str
    # Attributes whose values, joined by '-', make the look id (e.g. Shopify's product id and colour).
    look_key: tuple[str, ...]
    sku: str
    title: FieldRule
    garment_type: FieldRule
    size: FieldRule
    look_prefix: str = ""
    brand: FieldRule | None = None
    sleeve_length: FieldRule | None = None
    length: FieldRule | None = None
    fit: FieldRule | None = None
    colour: FieldRule | None = None
    size_chart: FieldRule | None = None
    measures: MappingType[str, str] = field(default_factory=dict)
    materials: FieldRule | None = None
    images: MappingType[str, str] = field(default_factory=dict)
    channels: FieldRule | None = None
    markets: FieldRule | None = None
    campaign_tags: FieldRule | None = None
    enabled: FieldRule | None = None
    price: str = ""
    currency: str = ""
    stock: str = ""
    barcode: str = ""
    source_id: str = ""
    # Akeneo: the locale and channel (scope) whose values are read; others are ignored.
    locale: str = ""
    scope: str = ""


@dataclass(frozen=True)
class SizeChart:
    # size label -> (measure, range), in the chart's order: smallest first.
    rows: MappingType[str, tuple[tuple[str, Range], ...]]


@dataclass(frozen=True)
class Mapping:
    sources: MappingType[str, SourceMapping]
    colours: MappingType[str, Colour]
    size_charts: MappingType[str, SizeChart]
    size_order: tuple[str, ...]
    imagery_attributes: tuple[str, ...]
    brand: str = ""
    channels: tuple[str, ...] = ()
    markets: tuple[str, ...] = ()

    def for_source(self, source: str) -> SourceMapping:
        """The section for ``source``; the Event Platform and backfill read Akeneo's."""
        section = self.sources.get(source) or (self.sources.get("akeneo") if source.startswith("akeneo") else None)
        if section is None:
            raise Unmappable(f"the mapping has no [{source}] section")
        return section

    def rank(self, size_label: str, chart: str) -> int:
        order = list(self.size_charts[chart].rows) if chart in self.size_charts else list(self.size_order)
        return order.index(size_label) if size_label in order else len(order)

    def map_variant(self, view: ProductView, section: SourceMapping) -> tuple[str, VariantFields, LookFields]:
        """The look id, the variant and its look's fields, or Unmappable naming what is wrong."""
        look_id = self.look_id(view, section)
        try:
            return look_id, self._variant(view, section), self.map_look(view, section)
        except Unmappable as error:
            raise Unmappable(error.reason, look_id) from None

    def look_id(self, view: ProductView, section: SourceMapping) -> str:
        parts = []
        for attribute in section.look_key:
            value = view.get(attribute)
            if value in (None, "", []):
                raise Unmappable(f"{attribute} is empty: the look key ({' + '.join(section.look_key)}) needs it")
            parts.append(_slug(_text(value[0] if isinstance(value, list) else value)))
        return section.look_prefix + "-".join(parts)

    def map_look(self, view: ProductView, section: SourceMapping) -> LookFields:
        garment = Garment(
            type=section.garment_type.one(view, "garment type", required=True),
            sleeve_length=section.sleeve_length.one(view, "sleeve length") if section.sleeve_length else "",
            length=section.length.one(view, "length") if section.length else "",
            fit=section.fit.one(view, "fit") if section.fit else "",
        )
        _check_choice(garment.type, GARMENT_TYPES, "garment type")
        code = section.colour.one(view, "colour", lenient=True) if section.colour else ""
        chart = section.size_chart.one(view, "size chart") if section.size_chart else ""
        if chart and chart not in self.size_charts:
            raise Unmappable(f"size chart '{chart}' is not in the mapping's [size_charts]")
        images = tuple((role, url) for role, attr in section.images.items() if (url := _url(view.get(attr))))
        return LookFields(
            title=section.title.one(view, "title", required=True),
            brand=(section.brand.one(view, "brand") if section.brand else "") or self.brand,
            garment=garment,
            colour=self.colours.get(code, Colour(code)),
            size_chart=chart,
            materials=section.materials.many(view) if section.materials else (),
            images=images,
            channels=_checked(section.channels.many(view) if section.channels else self.channels, CHANNELS, "channel"),
            markets=_markets(section.markets.many(view)) if section.markets else self.markets,
            campaign_tags=section.campaign_tags.many(view) if section.campaign_tags else (),
            enabled=_truthy(section.enabled.one(view, "enabled")) if section.enabled else True,
        )

    def _variant(self, view: ProductView, section: SourceMapping) -> VariantFields:
        sku = _text(view.get(section.sku) or "")
        if not sku:
            raise Unmappable(f"{section.sku} is empty: the variant's SKU is required")
        measures = tuple(
            (measure, _range(view.get(attr), attr))
            for measure, attr in section.measures.items()
            if view.get(attr) not in (None, "")
        )
        price, currency = _price(view.get(section.price), section.currency) if section.price else ("", "")
        stock = view.get(section.stock) if section.stock else 0
        return VariantFields(
            sku=sku,
            size_label=section.size.one(view, "size", required=True),
            source_id=_text(view.get(section.source_id) or "") if section.source_id else "",
            price=price,
            currency=currency,
            stock=int(stock) if isinstance(stock, int | Decimal | str) and str(stock).lstrip("-").isdigit() else 0,
            barcode=_text(view.get(section.barcode) or "") if section.barcode else "",
            enabled=_truthy(section.enabled.one(view, "enabled")) if section.enabled else True,
            measures=tuple(sorted(measures, key=lambda m: m[0])),
        )


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "-", value).strip("-") or "_"


def _truthy(value: str) -> bool:
    return value.lower() not in ("false", "0", "no", "off", "disabled", "draft", "archived")


def _url(value: object) -> str:
    first = value[0] if isinstance(value, list) and value else value
    return first if isinstance(first, str) and first.startswith(("http://", "https://")) else ""


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise Unmappable(f"{what} '{value}' is not one of {', '.join(allowed)}")


def _checked(values: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    for value in values:
        _check_choice(value, allowed, what)
    return values


def _markets(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not _COUNTRY.match(value):
            raise Unmappable(f"market '{value}' is not an ISO 3166-1 alpha-2 code such as GB (map it in the mapping)")
    return values


def _range(value: object, attribute: str) -> Range:
    """A measure in cm: a number, an Akeneo metric in cm, or "86-90"."""
    if isinstance(value, dict):
        if str(value.get("unit", "CENTIMETER")).upper() not in ("CENTIMETER", "CM"):
            raise Unmappable(f"{attribute} is in {value.get('unit')}, not centimetres")
        value = value.get("amount")
    text = _text(value)
    if matched := _RANGE.match(text):
        low, high = Decimal(matched.group(1)), Decimal(matched.group(2))
    else:
        try:
            low = high = Decimal(text)
        except InvalidOperation:
            raise Unmappable(f"{attribute} '{text}' is not a measure in cm such as 86 or 86-90") from None
    if not (0 < low <= high < 300):
        raise Unmappable(f"{attribute} '{text}' is not a body measure in cm")
    return Range(float(low), float(high))


def _price(value: object, currency: str) -> tuple[str, str]:
    """An amount as text (never a float) and its currency, from a number or an Akeneo price list."""
    if isinstance(value, list):
        prices = [p for p in value if isinstance(p, dict)]
        chosen = next((p for p in prices if p.get("currency") == currency), prices[0] if prices else None)
        if chosen is None:
            return "", ""
        return _text(chosen.get("amount") or ""), _text(chosen.get("currency") or currency)
    return ("", "") if value in (None, "") else (_text(value), currency)


# -- loading -------------------------------------------------------------------------------------


def load_mapping(path: str | Path) -> Mapping:
    try:
        document = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise MappingError(f"TWINWEAR_PIM_MAPPING {path}: {error}") from None
    return parse_mapping(document)


def parse_mapping(document: MappingType[str, object]) -> Mapping:
    defaults = _table(document, "defaults")
    colours = {
        code: _colour(code, _table(document["colours"], code, "colours")) for code in _table(document, "colours")
    }
    charts = {name: _chart(name, rows) for name, rows in _table(document, "size_charts").items()}
    imagery = tuple(defaults.get("imagery_relevant", IMAGERY_ATTRIBUTES))
    for attribute in imagery:
        _require_choice(attribute, IMAGERY_ATTRIBUTES, "defaults.imagery_relevant")
    markets = tuple(defaults.get("markets", ()))
    for market in markets:
        if not _COUNTRY.match(market):
            raise MappingError(f"defaults.markets: '{market}' is not an ISO 3166-1 alpha-2 code such as GB")
    channels = tuple(defaults.get("channels", CHANNELS))
    for channel in channels:
        _require_choice(channel, CHANNELS, "defaults.channels")
    sources = {name: _section(name, _table(document, name)) for name in SOURCES if name in document}
    if not sources:
        raise MappingError(f"the mapping has no PIM section: add one of [{'], ['.join(SOURCES)}]")
    return Mapping(
        sources=sources,
        colours=colours,
        size_charts=charts,
        size_order=tuple(defaults.get("size_order", ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL"))),
        imagery_attributes=imagery,
        brand=str(defaults.get("brand", "")),
        channels=channels,
        markets=markets,
    )


def _table(document: object, key: str, parent: str = "") -> dict[str, object]:
    value = document.get(key, {}) if isinstance(document, dict) else {}
    if not isinstance(value, dict):
        raise MappingError(f"{parent + '.' if parent else ''}{key} must be a table")
    return value


def _require_choice(value: object, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise MappingError(f"{key}: '{value}' is not one of {', '.join(allowed)}")


def _colour(code: str, table: dict[str, object]) -> Colour:
    hex_value = table.get("hex")
    if not isinstance(hex_value, str) or not _HEX.match(hex_value):
        raise MappingError(f"colours.{code}.hex must be an sRGB hex colour such as '#1f2a44'")
    rgb = (int(hex_value[1:3], 16), int(hex_value[3:5], 16), int(hex_value[5:7], 16))
    return Colour(code, str(table.get("name") or code), rgb)


def _chart(name: str, rows: object) -> SizeChart:
    if not isinstance(rows, dict) or not rows:
        raise MappingError(f"size_charts.{name} must be a table of sizes")
    parsed: dict[str, tuple[tuple[str, Range], ...]] = {}
    for label, measures in rows.items():
        key = f"size_charts.{name}.{label}"
        if not isinstance(measures, dict):
            raise MappingError(f"{key} must be a table such as {{ chest_girth = [82, 86] }}")
        row = []
        for measure, bounds in measures.items():
            _require_choice(measure, MEASURES, key)
            if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds)):
                raise MappingError(f"{key}.{measure} must be [min_cm, max_cm]")
            row.append((measure, Range(float(bounds[0]), float(bounds[1]))))
        parsed[label] = tuple(sorted(row, key=lambda m: m[0]))
    return SizeChart(parsed)


def _rule(section: str, key: str, value: object) -> FieldRule:
    if isinstance(value, str):
        return FieldRule(attribute=value)
    if not isinstance(value, dict):
        raise MappingError(f"{section}.{key} must be an attribute name or a table")
    if "value" in value:
        return FieldRule(constant=str(value["value"]))
    if not isinstance(value.get("attribute"), str):
        raise MappingError(f"{section}.{key}.attribute must name the PIM attribute")
    values = value.get("map")
    if values is not None and not isinstance(values, dict):
        raise MappingError(f"{section}.{key}.map must be a table of PIM value = twinwear value")
    default = value.get("default")
    return FieldRule(
        attribute=value["attribute"],
        values={str(k): str(v) for k, v in values.items()} if values is not None else None,
        default=str(default) if default is not None else None,
    )


_RULES = (
    "title", "brand", "garment_type", "sleeve_length", "length", "fit", "colour", "size", "size_chart",
    "materials", "channels", "markets", "campaign_tags", "enabled",
)  # fmt: skip
_NAMES = ("sku", "price", "currency", "stock", "barcode", "source_id", "locale", "scope", "look_prefix")


def _section(source: str, table: dict[str, object]) -> SourceMapping:
    for required in ("look_key", "sku", "title", "garment_type", "size"):
        if required not in table:
            raise MappingError(f"[{source}] needs {required}")
    unknown = set(table) - {*_RULES, *_NAMES, "look_key", "measures", "images"}
    if unknown:
        raise MappingError(f"[{source}] has unknown keys: {', '.join(sorted(unknown))}")
    look_key = table["look_key"]
    look_key = (look_key,) if isinstance(look_key, str) else tuple(look_key)  # type: ignore[arg-type]
    images = _table(table, "images", source)
    for role in images:
        _require_choice(role, IMAGE_ROLES, f"{source}.images")
    measures = _table(table, "measures", source)
    for measure in measures:
        _require_choice(measure, MEASURES, f"{source}.measures")
    rules = {key: _rule(source, key, table[key]) for key in _RULES if key in table}
    names = {key: str(table[key]) for key in _NAMES if key in table}
    return SourceMapping(
        source=source,
        look_key=look_key,
        images={role: str(images[role]) for role in IMAGE_ROLES if role in images},
        measures={m: str(measures[m]) for m in MEASURES if m in measures},
        **rules,  # type: ignore[arg-type]
        **names,  # type: ignore[arg-type]
    )
