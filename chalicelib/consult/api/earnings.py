"""Earnings statements from the ledger: a doctor's own, any doctor's for admins, JSON or CSV."""

from __future__ import annotations

from chalicelib.consult import availability
from chalicelib.consult.api import ADMIN, api
from chalicelib.consult.api.shapes import instant, utc
from chalicelib.consult.doctor_schemas import EarningsOut, EarningsQuery, FiguresOut, PeriodOut, WalletFigures
from chalicelib.consult.models import doctors
from chalicelib.consult.service import earnings
from chalicelib.consult.statement import Figures
from chalicelib.core.http import Call

DOCTOR = ("doctor",)
CSV = "text/csv"


def _figures(f: Figures) -> FiguresOut:
    return FiguresOut(intervals=f.intervals, credits=f.credits, amount=f.amount)


def _statement(call: Call, doctor_id: str) -> earnings.Statement:
    args: EarningsQuery = call.args
    doctor = doctors.get_doctor(doctor_id)
    tz = availability.zone(doctor.timezone if doctor else "UTC")
    return earnings.earnings(doctor_id, instant(args.from_, tz), instant(args.to, tz, end=True), args.group)


def _out(s: earnings.Statement) -> EarningsOut:
    return EarningsOut(
        doctor_id=s.doctor_id,
        timezone=s.timezone,
        group=s.group,
        start=None if s.start is None else utc(s.start),
        end=utc(s.end),
        periods=[
            PeriodOut(
                start=p.start,
                end=p.end,
                **_figures(p.total).model_dump(),
                by_mode={m: _figures(f) for m, f in sorted(p.by_mode.items())},
            )
            for p in s.periods
        ],
        total=_figures(s.total.total),
        by_mode={m: _figures(f) for m, f in sorted(s.total.by_mode.items())},
        wallet=WalletFigures(balance=s.balance, paid_out=s.paid_out, credits_earned=s.credits_earned),
        reconciles=s.reconciles,
    )


def _csv(s: earnings.Statement) -> str:
    return earnings.as_csv(s)


@api.route("/me/consult/earnings", query=EarningsQuery, response=EarningsOut, roles=DOCTOR)
def my_earnings(call: Call) -> EarningsOut:
    """Your earnings by ``group`` (day, week, month in your zone) and mode, ``?from=&to=``; over
    all time (no from/to) it reconciles with your wallet (``reconciles``)."""
    return _out(_statement(call, call.user.sub))


@api.route("/me/consult/earnings/csv", query=EarningsQuery, roles=DOCTOR, content_type=CSV)
def my_earnings_csv(call: Call) -> str:
    """Your earnings statement as CSV (one row per period and mode, then totals)."""
    return _csv(_statement(call, call.user.sub))


@api.route(
    "/admin/consult/doctors/{doctor_id}/earnings", query=EarningsQuery, response=EarningsOut, roles=ADMIN
)
def doctor_earnings(call: Call, doctor_id: str) -> EarningsOut:
    """Any doctor's earnings statement."""
    return _out(_statement(call, doctor_id))


@api.route(
    "/admin/consult/doctors/{doctor_id}/earnings/csv", query=EarningsQuery, roles=ADMIN, content_type=CSV
)
def doctor_earnings_csv(call: Call, doctor_id: str) -> str:
    """Any doctor's earnings statement as CSV."""
    return _csv(_statement(call, doctor_id))
