"""Request/response models of the voucher routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, model_validator

from chalicelib.core.schemas import Page, RequestBody
from chalicelib.hotspot.schemas import Id, IPv4, Mac
from chalicelib.hotspot.vouchers import logic


def _code(value: str) -> str:
    return logic.normalize_code(value)


Code = Annotated[
    str,
    Field(min_length=1, max_length=40, description="As printed (ABCDE-FGHJK); any case, spaces or hyphens."),
    AfterValidator(_code),
]


class BatchIn(RequestBody):
    package_id: Id
    router_id: Id | None = Field(default=None, description="None: every router the package is sold on.")
    count: int = Field(ge=1, le=logic.MAX_BATCH)
    expires_at: AwareDatetime = Field(description="ISO-8601 with a zone, e.g. 2026-12-31T20:59:59Z.")
    label: str | None = Field(default=None, min_length=1, max_length=80)


class Counts(BaseModel):
    unused: int
    sold: int
    used: int
    revoked: int


class BatchOut(BaseModel):
    batch_id: str
    package_id: str
    package_name: str
    price: int
    router_id: str | None = None
    router_ids: list[str] = Field(description="The routers it was for when generated.")
    count: int
    label: str | None = None
    expires_at: str
    status: str = Field(description="active | revoked | expired")
    created_at: str
    revoked_at: str | None = None
    counts: Counts
    csv_url: str
    sheet_url: str


class BatchPage(BaseModel):
    batches: list[BatchOut]
    next: str | None = Field(default=None, description="Pass as ?before= for the next (older) page.")


class BatchQuery(Page):
    before: str | None = Field(default=None, max_length=64, description="Cursor: a page's ``next``.")


class SellIn(RequestBody):
    """The codes handed out, or how many (the first unused ones in print order)."""

    codes: list[Code] | None = Field(default=None, min_length=1, max_length=logic.MAX_BATCH)
    count: int | None = Field(default=None, ge=1, le=logic.MAX_BATCH)

    @model_validator(mode="after")
    def _one(self) -> SellIn:
        if (self.codes is None) == (self.count is None):
            raise ValueError("give either codes or count")
        return self


class Skipped(BaseModel):
    code: str
    status: str = Field(description="sold | used | revoked | not_found | other_batch")


class SellOut(BaseModel):
    marked: list[str]
    skipped: list[Skipped]
    batch: BatchOut


class VoucherOut(BaseModel):
    code: str
    status: str = Field(description="unused | sold | used | revoked (a revoked batch's unused and sold)")
    batch_id: str
    batch_status: str
    package_id: str
    package_name: str
    price: int
    router_id: str | None = Field(default=None, description="None: any router the package is sold on.")
    expires_at: str
    sold_at: str | None = None
    used_at: str | None = None
    used_by_mac: str | None = None
    used_router_id: str | None = None
    subscription_id: str | None = None
    revoked_at: str | None = None


class RedeemIn(RequestBody):
    code: Code
    router_id: Id
    mac_address: Mac
    ip: IPv4 | None = None


class RedeemOut(BaseModel):
    subscription_id: str
    status_url: str
    package: dict[str, Any]
    message: str
