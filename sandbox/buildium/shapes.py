"""Buildium's nested shapes (addresses, phone lists, people) and enums, drawn with the variety real accounts have."""

from __future__ import annotations

import random

from ..vocab import CITIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, STREETS, STREET_SUFFIXES

BEDROOMS = ("NotSet", "Studio", "OneBed", "TwoBed", "ThreeBed", "FourBed", "FiveBed", "SixBed", "SevenBed",
            "EightBed", "NineBedPlus")
BATHROOMS = ("NotSet", "OneBath", "OnePointFiveBath", "TwoBath", "TwoPointFiveBath", "ThreeBath", "FourBath",
             "FiveBath", "FivePlusBath", "ThreePointFiveBath", "FourPointFiveBath")
PHONE_TYPES = ("NotSet", "Home", "Office", "Cell", "Personal", "Fax", "Other")
RENTAL_TYPES = ("None", "Residential", "Commercial")
RESIDENTIAL_SUBTYPES = ("CondoTownhome", "MultiFamily", "SingleFamily")
COMMERCIAL_SUBTYPES = ("Industrial", "Office", "Retail", "ShoppingCenter", "Storage", "ParkingSpace")
LEASE_TYPES = ("None", "Fixed", "FixedWithRollover", "AtWill")
TERM_TYPES = ("MonthToMonth", "Standard", "Owner")
RENEWAL_OFFER_STATUSES = ("NotSet", "NotStarted", "Generated", "Declined", "Renewed", "Draft", "Unsigned",
                          "PartiallySigned", "Countersign", "Activated", "Sent", "Accepted")
SMS_STATUSES = ("NotSet", "RequestSent", "OptedIn", "OptedOut", "Converted")
MAILING_PREFERENCES = ("PrimaryAddress", "AlternateAddress")
TASK_TYPES = ("ContactRequest", "ResidentRequest", "Todo", "RentalOwnerRequest")
TASK_STATUSES = ("New", "InProgress", "Completed", "Deferred", "Closed")
TASK_PRIORITIES = ("Low", "Normal", "High")
ENTRY_ALLOWED = ("Unknown", "Yes", "No")
DELINQUENCY_STATUSES = ("NoDelinquency", "InCollections", "InForeclosure", "Foreclosed")
BOARD_POSITIONS = ("President", "VicePresident", "Treasurer", "Secretary", "BoardMember")
TAX_ID_TYPES = ("SSN", "EIN")
COUNTRIES = ("UnitedStates",) * 20 + ("Canada", "PuertoRico", "Mexico")
UNICODE_FIRST = ("Zoë", "José", "Łukasz", "Siobhán", "Nguyễn", "Ólafur", "Søren", "Chloé", "李", "Мария")
UNICODE_LAST = ("Müller", "García-Márquez", "O'Brien", "Đặng", "Ångström", "Nuñez", "van der Berg", "王", "Петров")
VENDOR_CATEGORIES = ((1, "Plumbing"), (2, "Electrical"), (3, "HVAC"), (4, "Landscaping"), (5, "General Contractor"),
                     (6, "Cleaning"), (7, "Pest Control"), (8, "Appliance Repair"))
TASK_CATEGORIES = ((11, "Maintenance"), (12, "Complaint"), (13, "Inspection"), (14, "Move-in / Move-out"))
US_STATES = ("MA", "NY", "CA", "TX", "FL", "IL", "WA", "CO", "GA", "NC")


def cycled(rng: random.Random, values: tuple, position: int):
    """values[position] for the first records (every value appears), a random one afterwards."""
    return values[position] if position < len(values) else rng.choice(values)


def maybe(rng: random.Random, share: float, value, empty=None):
    """`value`, or `empty` (None or "") for a `share` of records: the gaps real accounts have."""
    return empty if rng.random() < share else value


def address(rng: random.Random, position: int, number: int | None = None) -> dict:
    street = f"{number or rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_SUFFIXES)}"
    city, state = rng.choice(CITIES), rng.choice(US_STATES)
    if isinstance(city, tuple):
        city, state = city[0], city[1]
    return {"AddressLine1": street, "AddressLine2": maybe(rng, 0.7, f"Suite {rng.randint(1, 400)}", ""),
            "AddressLine3": maybe(rng, 0.95, "c/o Management", None), "City": city, "State": state,
            "PostalCode": maybe(rng, 0.02, f"{rng.randint(1000, 99999):05d}", ""),
            "Country": cycled(rng, COUNTRIES, 20 + position) if position else "UnitedStates"}


def phones(rng: random.Random, position: int) -> list[dict] | None:
    if position % 17 == 5:
        return None
    count = 0 if position % 11 == 3 else rng.randint(1, 3)
    return [{"Number": f"({rng.randint(200, 989)}) 555-{rng.randint(0, 9999):04d}",
             "Type": PHONE_TYPES[(position * 3 + i) % len(PHONE_TYPES)]} for i in range(count)]


def person_name(rng: random.Random, position: int) -> tuple[str, str]:
    if position % 13 == 7:
        return rng.choice(UNICODE_FIRST), rng.choice(UNICODE_LAST)
    if position % 29 == 11:
        return "", rng.choice(LAST_NAMES)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def email(rng: random.Random, first: str, last: str, position: int) -> str | None:
    if position % 19 == 4:
        return None
    if position % 23 == 9:
        return ""
    local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and (c.isalnum() or c == ".")).strip(".")
    return f"{local or 'resident'}{position}@{rng.choice(EMAIL_DOMAINS)}"


def tax_information(rng: random.Random, position: int, name: str, *, with_1099: bool = True) -> dict | None:
    if position % 5 == 2:
        return None
    info = {"TaxPayerIdType": cycled(rng, TAX_ID_TYPES + (None,), position),
            "TaxPayerId": maybe(rng, 0.3, f"{rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"),
            "TaxPayerName1": name, "TaxPayerName2": maybe(rng, 0.8, "Trustee", None),
            "Address": maybe(rng, 0.5, address(rng, position))}
    if with_1099:
        info["IncludeIn1099"] = rng.random() < 0.5
    return info


def manager(rng: random.Random, position: int, user_id: int) -> dict | None:
    if position % 7 == 6:
        return None
    first, last = person_name(rng, position)
    return {"Id": user_id, "FirstName": first, "LastName": last, "CompanyName": maybe(rng, 0.8, "Sandbox PM", ""),
            "IsCompany": False, "ProfilePhotoUrl": None, "Email": email(rng, first, last, position),
            "PhoneNumbers": phones(rng, position)}
