"""State Pension age from a date of birth, under UK law as it stands, and when one may claim.

The law is Schedule 4, paragraph 1, of the Pensions Act 1995, as amended by the Pensions Act
2007 (s. 13 and Schedule 3), the Pensions Act 2011 (s. 1) and the Pensions Act 2014 (s. 26).
For a person born:

- 6 December 1953 to 5 October 1954: on the day table 2 gives for their month of birth
  (6 March 2019 to 6 September 2020; Pensions Act 2011, s. 1(5));
- 6 October 1954 to 5 April 1960: at 66 (sub-paragraph (6), as the 2011 Act left it);
- 6 April 1960 to 5 March 1961: at 66 years and 1 to 11 months, by table 3 (Pensions Act 2014,
  s. 26(3)); a day their month of birth has and the month reached lacks is the last day of
  that month (sub-paragraph (7A): born 31 December 1960, 66 years and 9 months on 30 September
  2027);
- 6 March 1961 to 5 April 1977: at 67 (sub-paragraph (8), Pensions Act 2014, s. 26(4));
- 6 April 1977 to 5 April 1978: on the day table 4 gives (6 May 2044 to 6 March 2046; Pensions
  Act 2007, Schedule 3). A review may bring the rise to 68 forward; until Parliament does,
  this is the law;
- on or after 6 April 1978: at 68.

A person attains an age at the start of the anniversary of their birth (Family Law Reform Act
1969, s. 9); someone born on 29 February reaches an age in a year without one on 28 February,
by the rule of sub-paragraph (7A) (the Acts say nothing else of it). People born before 6
December 1953 had different ages for men and women (table 1, and 65 for men); all of them
reached State Pension age by 5 December 2018, so here they have "reached it before 6 March
2019" (None), which is all a claim made today needs to know.

A claim may be made up to 4 months before State Pension age (the claims rules: GOV.UK "You can
apply up to 4 months before you reach State Pension age").

Plain computation: no web framework, no database.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

FIRST_TABLE_2 = date(1953, 12, 6)
AT_66_FROM = date(1954, 10, 6)
TABLE_3_FROM = date(1960, 4, 6)
AT_67_FROM = date(1961, 3, 6)
TABLE_4_FROM = date(1977, 4, 6)
AT_68_FROM = date(1978, 4, 6)
CLAIM_MONTHS_BEFORE = 4


def add_months(day: date, months: int) -> date:
    """day moved by months (either way); a day the month reached lacks is its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _period(born: date, first: date) -> int:
    """Which month-long period from first (6th to 5th) born falls in: 0 for the first."""
    months = (born.year - first.year) * 12 + born.month - first.month
    return months - (1 if born.day < first.day else 0)


def state_pension_date(born: date) -> date | None:
    """The day a person born on born reaches State Pension age; None when they reached it
    before 6 March 2019 (born before 6 December 1953)."""
    if born < FIRST_TABLE_2:
        return None
    if born < AT_66_FROM:
        # Table 2: every two months from 6 March 2019, one row per month of birth.
        return add_months(date(2019, 3, 6), 2 * _period(born, FIRST_TABLE_2))
    if born < TABLE_3_FROM:
        return add_months(born, 66 * 12)
    if born < AT_67_FROM:
        # Table 3: 66 years and 1 month for the first row, one more month for each row after.
        return add_months(born, 66 * 12 + 1 + _period(born, TABLE_3_FROM))
    if born < TABLE_4_FROM:
        return add_months(born, 67 * 12)
    if born < AT_68_FROM:
        # Table 4: every two months from 6 May 2044, one row per month of birth.
        return add_months(date(2044, 5, 6), 2 * _period(born, TABLE_4_FROM))
    return add_months(born, 68 * 12)


@dataclass(frozen=True)
class ClaimWindow:
    """When a person may claim: their State Pension date (None: reached before 6 March 2019)
    and the first day they may apply."""

    pension_date: date | None
    opens: date | None

    def open_on(self, today: date) -> bool:
        """True when a claim may be made today."""
        return self.opens is None or today >= self.opens


def claim_window(born: date) -> ClaimWindow:
    """When someone born on born may claim: from 4 months before State Pension age."""
    reached = state_pension_date(born)
    if reached is None:
        return ClaimWindow(None, None)
    return ClaimWindow(reached, add_months(reached, -CLAIM_MONTHS_BEFORE))


def long_date(day: date) -> str:
    """A date as GOV.UK writes it: '6 May 2031'."""
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def too_early(born: date, today: date) -> str | None:
    """Why someone born on born cannot claim today, in words; None when they can."""
    window = claim_window(born)
    if window.open_on(today) or window.pension_date is None or window.opens is None:
        return None
    return (
        f"You cannot apply yet. You reach State Pension age on {long_date(window.pension_date)}. "
        f"You can apply from {long_date(window.opens)}, 4 months before."
    )


def award_status(born: date, today: date) -> str:
    """The pensions register's status of someone awarded their State Pension today."""
    reached = state_pension_date(born)
    if reached is None or reached <= today:
        return "Receiving State Pension"
    return f"State Pension awarded, paid from {long_date(reached)}"
