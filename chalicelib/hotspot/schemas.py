"""Request/response models of the hotspot API."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, model_validator

from chalicelib.core.schemas import Query, RequestBody
from chalicelib.hotspot import logic


def _phone(value: str) -> str:
    return logic.normalize_phone(value)


def _mac(value: str) -> str:
    return logic.normalize_mac(value)


def _receipt(value: str) -> str:
    return logic.normalize_receipt(value)


def _ip(value: str) -> str:
    return str(ipaddress.IPv4Address(value.strip()))


def _rate(value: str) -> str:
    if not logic.RATE_LIMIT.match(value):
        raise ValueError("rate_limit must be RouterOS rx/tx such as 2M/5M")
    return value


Phone = Annotated[str, AfterValidator(_phone)]
Mac = Annotated[str, AfterValidator(_mac)]
IPv4 = Annotated[str, AfterValidator(_ip)]
Receipt = Annotated[str, Field(max_length=40), AfterValidator(_receipt)]
RateLimit = Annotated[str, AfterValidator(_rate)]
Name = Annotated[str, Field(min_length=1, max_length=80)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
RouterMode = Literal["api", "radius"]
NasId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
RadiusSecret = Annotated[
    str, Field(min_length=8, max_length=128, description="Stored in Secrets Manager only.")
]


# --- routers -------------------------------------------------------------------------------------


class RouterIn(RequestBody):
    name: Name
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=8728, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256, description="Stored in Secrets Manager only.")
    login_url: HttpUrl
    hotspot_server: str | None = Field(default=None, max_length=64)
    mode: RouterMode = "api"
    nas_identifier: NasId | None = None
    nas_ip: IPv4 | None = None
    coa_port: int = Field(default=3799, ge=1, le=65535)
    radius_secret: RadiusSecret | None = None

    @model_validator(mode="after")
    def _radius(self) -> RouterIn:
        if self.mode == "radius" and not (self.radius_secret and (self.nas_identifier or self.nas_ip)):
            raise ValueError("a RADIUS-mode router needs radius_secret and nas_identifier or nas_ip")
        return self


class RouterPatch(RequestBody):
    name: Name | None = None
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=256)
    login_url: HttpUrl | None = None
    hotspot_server: str | None = Field(default=None, max_length=64)
    mode: RouterMode | None = None
    nas_identifier: NasId | None = None
    nas_ip: IPv4 | None = None
    coa_port: int | None = Field(default=None, ge=1, le=65535)
    radius_secret: RadiusSecret | None = None


class RouterOut(BaseModel):
    router_id: str
    name: str
    host: str
    port: int
    username: str
    login_url: str
    hotspot_server: str | None = None
    mode: str = "api"
    nas_identifier: str | None = None
    nas_ip: str | None = None
    coa_port: int | None = None
    status: str
    last_seen_at: float | None = None
    status_changed_at: float | None = None
    last_checked_at: float | None = None
    status_error: str | None = None
    created_at: float


class RouterList(BaseModel):
    routers: list[RouterOut]


# --- packages ------------------------------------------------------------------------------------


class PackageIn(RequestBody):
    name: Name
    price: int = Field(ge=1, le=250000, description="Whole KES (M-Pesa takes integers).")
    validity_seconds: int = Field(ge=1, le=366 * 86400, description="Wall-clock access from activation.")
    limit_uptime_seconds: int | None = Field(default=None, ge=60, description="Cumulative online time.")
    limit_bytes_total: int | None = Field(default=None, ge=1, description="Data cap, bytes up + down.")
    rate_limit: RateLimit | None = None
    shared_users: int = Field(default=1, ge=1, le=100)
    router_ids: list[Id] = Field(min_length=1, max_length=100)
    active: bool = True


class PackagePatch(RequestBody):
    name: Name | None = None
    price: int | None = Field(default=None, ge=1, le=250000)
    validity_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    limit_uptime_seconds: int | None = Field(default=None, ge=60)
    limit_bytes_total: int | None = Field(default=None, ge=1)
    rate_limit: RateLimit | None = None
    shared_users: int | None = Field(default=None, ge=1, le=100)
    router_ids: list[Id] | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None


class PackageOut(BaseModel):
    package_id: str
    name: str
    price: int
    validity_seconds: int
    limit_uptime_seconds: int | None = None
    limit_bytes_total: int | None = None
    rate_limit: str | None = None
    shared_users: int
    router_ids: list[str]
    active: bool
    created_at: float


class PackageList(BaseModel):
    packages: list[PackageOut]


class PortalPackage(BaseModel):
    package_id: str
    name: str
    price: int
    validity_seconds: int
    validity: str
    limit_uptime_seconds: int | None = None
    limit_bytes_total: int | None = None
    rate_limit: str | None = None
    account_number: str | None = Field(
        default=None, description="Paybill: the account number to type for this package on this router."
    )


class Paybill(BaseModel):
    kind: Literal["paybill", "till"]
    business_number: str


class PortalRouter(BaseModel):
    router_id: str
    name: str
    packages: list[PortalPackage]
    paybill: Paybill | None = Field(
        default=None, description="Paying from the M-Pesa menu; null: not offered."
    )


# --- payments ------------------------------------------------------------------------------------


class InitiatePayment(RequestBody):
    package_id: Id
    phone_number: Phone
    mac_address: Mac
    router_id: Id
    ip: IPv4 | None = None


class PaymentAccepted(BaseModel):
    payment_id: str
    status: str
    status_url: str
    message: str


class PaymentStatus(BaseModel):
    payment_id: str
    status: str = Field(
        description="pending | paid | provisioned | failed | cancelled | provision_failed | expired"
    )
    package: dict[str, Any]
    phone: str
    reason: str | None = None
    message: str | None = None
    receipt: str | None = None
    username: str | None = None
    password: str | None = None
    login_url: str | None = None
    expires_at: str | None = None
    access: dict[str, Any] | None = Field(
        default=None,
        description="state: waiting | setting_up | slow | online | failed | ended | none; message; attempts",
    )


# --- the portal's access (Paybill claim, reconnect, the unified view) --------------------------------


class PaybillClaim(RequestBody):
    router_id: Id
    package_id: Id | None = None
    phone_number: Phone
    mac_address: Mac
    ip: IPv4 | None = None


class Claimed(BaseModel):
    subscription_id: str
    status_url: str
    receipt: str | None = None
    message: str


class ReconnectIn(RequestBody):
    receipt: Receipt
    phone_number: Phone
    router_id: Id
    mac_address: Mac
    ip: IPv4 | None = None


class Reconnected(BaseModel):
    subscription_id: str
    status_url: str
    message: str


class AccessView(BaseModel):
    subscription_id: str
    status: str = Field(description="paid | provisioned | provision_failed | expired")
    access: dict[str, Any] = Field(description="state: setting_up | slow | online | failed | ended")
    package: dict[str, Any]
    username: str
    password: str
    login_url: str | None = None
    expires_at: str
    mac_address: str | None = None


# --- query strings -------------------------------------------------------------------------------


class PackageQuery(Query):
    router: str | None = Field(default=None, max_length=64, description="Only packages sold on this router.")


class PortalQuery(Query):
    """What MikroTik's login page passes on; echoed into the page, so bounded."""

    router: str = Field(default="", max_length=64)
    mac: str = Field(default="", max_length=64)
    ip: str = Field(default="", max_length=64)
