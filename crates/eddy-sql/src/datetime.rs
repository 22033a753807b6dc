//! Calendar arithmetic for `DATE` (days since 1970-01-01) and `TIMESTAMP` (milliseconds since
//! 1970-01-01 00:00:00, no time zone): conversions to and from the proleptic Gregorian
//! calendar, parsing and printing of SQL literals, `DATE_FORMAT` patterns and the units of
//! `EXTRACT`, `FLOOR(... TO unit)` and `TIMESTAMPADD`.
//!
//! No time-zone database and no wall clock: every function here is pure integer math
//! (Howard Hinnant's `days_from_civil` and `civil_from_days`), so results do not depend on the
//! machine a worker runs on.

use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// A unit of `EXTRACT`, `FLOOR`/`CEIL(... TO unit)`, `TIMESTAMPADD` and `TIMESTAMPDIFF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimeUnit {
    /// `MILLENNIUM`.
    Millennium,
    /// `CENTURY`.
    Century,
    /// `DECADE`.
    Decade,
    /// `YEAR`.
    Year,
    /// `QUARTER`.
    Quarter,
    /// `MONTH`.
    Month,
    /// `WEEK`: ISO week number in `EXTRACT`, weeks starting on Sunday in `FLOOR` (Calcite).
    Week,
    /// `DAY` (of month).
    Day,
    /// `DOY`: day of year, 1 to 366.
    DayOfYear,
    /// `DOW`: day of week, Sunday = 1 to Saturday = 7 (Calcite and Flink; PostgreSQL uses 0-6).
    DayOfWeek,
    /// `ISODOW`: Monday = 1 to Sunday = 7.
    IsoDayOfWeek,
    /// `HOUR`.
    Hour,
    /// `MINUTE`.
    Minute,
    /// `SECOND`.
    Second,
    /// `MILLISECOND`.
    Millisecond,
    /// `EPOCH`: seconds since 1970-01-01 00:00:00.
    Epoch,
}

impl TimeUnit {
    /// The unit's SQL name.
    pub fn name(&self) -> &'static str {
        match self {
            TimeUnit::Millennium => "MILLENNIUM",
            TimeUnit::Century => "CENTURY",
            TimeUnit::Decade => "DECADE",
            TimeUnit::Year => "YEAR",
            TimeUnit::Quarter => "QUARTER",
            TimeUnit::Month => "MONTH",
            TimeUnit::Week => "WEEK",
            TimeUnit::Day => "DAY",
            TimeUnit::DayOfYear => "DOY",
            TimeUnit::DayOfWeek => "DOW",
            TimeUnit::IsoDayOfWeek => "ISODOW",
            TimeUnit::Hour => "HOUR",
            TimeUnit::Minute => "MINUTE",
            TimeUnit::Second => "SECOND",
            TimeUnit::Millisecond => "MILLISECOND",
            TimeUnit::Epoch => "EPOCH",
        }
    }

    /// The unit of a SQL name (case-insensitive, singular or plural, `SQL_TSI_*` as in JDBC).
    pub fn from_name(name: &str) -> Option<TimeUnit> {
        let upper = name.to_ascii_uppercase();
        let upper = upper.strip_prefix("SQL_TSI_").unwrap_or(&upper);
        Some(match upper {
            "MILLENNIUM" | "MILLENIUM" => TimeUnit::Millennium,
            "CENTURY" => TimeUnit::Century,
            "DECADE" => TimeUnit::Decade,
            "YEAR" | "YEARS" => TimeUnit::Year,
            "QUARTER" | "QUARTERS" => TimeUnit::Quarter,
            "MONTH" | "MONTHS" => TimeUnit::Month,
            "WEEK" | "WEEKS" => TimeUnit::Week,
            "DAY" | "DAYS" => TimeUnit::Day,
            "DOY" | "DAYOFYEAR" => TimeUnit::DayOfYear,
            "DOW" | "DAYOFWEEK" => TimeUnit::DayOfWeek,
            "ISODOW" => TimeUnit::IsoDayOfWeek,
            "HOUR" | "HOURS" => TimeUnit::Hour,
            "MINUTE" | "MINUTES" => TimeUnit::Minute,
            "SECOND" | "SECONDS" => TimeUnit::Second,
            "MILLISECOND" | "MILLISECONDS" | "FRAC_SECOND" => TimeUnit::Millisecond,
            "EPOCH" => TimeUnit::Epoch,
            _ => return None,
        })
    }

    /// The length of a fixed-length unit in milliseconds (`None` for months and longer).
    pub fn fixed_millis(&self) -> Option<i64> {
        match self {
            TimeUnit::Week => Some(7 * MILLIS_PER_DAY),
            TimeUnit::Day => Some(MILLIS_PER_DAY),
            TimeUnit::Hour => Some(3_600_000),
            TimeUnit::Minute => Some(60_000),
            TimeUnit::Second => Some(1_000),
            TimeUnit::Millisecond => Some(1),
            _ => None,
        }
    }

    /// The length of a month-based unit in months (`None` for fixed-length units).
    pub fn months(&self) -> Option<i64> {
        match self {
            TimeUnit::Millennium => Some(12_000),
            TimeUnit::Century => Some(1_200),
            TimeUnit::Decade => Some(120),
            TimeUnit::Year => Some(12),
            TimeUnit::Quarter => Some(3),
            TimeUnit::Month => Some(1),
            _ => None,
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31, unchecked).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month as i64 + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether `year` is a leap year.
pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in a month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The parts of a timestamp: (year, month, day, hour, minute, second, millisecond).
pub fn timestamp_parts(millis: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let in_day = millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let hour = (in_day / 3_600_000) as u32;
    let minute = (in_day / 60_000 % 60) as u32;
    let second = (in_day / 1000 % 60) as u32;
    (year, month, day, hour, minute, second, (in_day % 1000) as u32)
}

/// Day of week of a day number, Monday = 1 to Sunday = 7 (ISO 8601).
pub fn iso_day_of_week(days: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) + 1
}

/// ISO 8601 week number, 1 to 53.
pub fn iso_week(days: i64) -> i64 {
    // The week belongs to the year of its Thursday.
    let thursday = days - iso_day_of_week(days) + 4;
    let (year, _, _) = civil_from_days(thursday);
    (thursday - days_from_civil(year, 1, 1)) / 7 + 1
}

/// `EXTRACT(unit FROM timestamp)`, for a timestamp in milliseconds.
pub fn extract(unit: TimeUnit, millis: i64) -> i64 {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let (year, month, day, hour, minute, second, milli) = timestamp_parts(millis);
    match unit {
        TimeUnit::Millennium => (year - 1).div_euclid(1000) + 1,
        TimeUnit::Century => (year - 1).div_euclid(100) + 1,
        TimeUnit::Decade => year.div_euclid(10),
        TimeUnit::Year => year,
        TimeUnit::Quarter => (month as i64 - 1) / 3 + 1,
        TimeUnit::Month => month as i64,
        TimeUnit::Week => iso_week(days),
        TimeUnit::Day => day as i64,
        TimeUnit::DayOfYear => days - days_from_civil(year, 1, 1) + 1,
        TimeUnit::DayOfWeek => iso_day_of_week(days) % 7 + 1,
        TimeUnit::IsoDayOfWeek => iso_day_of_week(days),
        TimeUnit::Hour => hour as i64,
        TimeUnit::Minute => minute as i64,
        TimeUnit::Second => second as i64,
        // PostgreSQL and Calcite: seconds field times 1000, fraction included.
        TimeUnit::Millisecond => second as i64 * 1000 + milli as i64,
        TimeUnit::Epoch => millis.div_euclid(1000),
    }
}

/// `FLOOR(timestamp TO unit)`; `None` for units that are not a calendar period (`DOW`, ...).
pub fn floor(unit: TimeUnit, millis: i64) -> Option<i64> {
    if let Some(length) = unit.fixed_millis() {
        if unit == TimeUnit::Week {
            // Weeks start on Sunday (Calcite's `DateTimeUtils.unixTimestampFloor`).
            let days = millis.div_euclid(MILLIS_PER_DAY);
            let sunday = days - iso_day_of_week(days) % 7;
            return sunday.checked_mul(MILLIS_PER_DAY);
        }
        return millis.checked_sub(millis.rem_euclid(length));
    }
    let months = unit.months()?;
    let (year, month, _, _, _, _, _) = timestamp_parts(millis);
    let total = year * 12 + month as i64 - 1;
    let floored = match unit {
        // Centuries and millennia start in year ...01 (PostgreSQL's `date_trunc`).
        TimeUnit::Century | TimeUnit::Millennium => (total - 12).div_euclid(months) * months + 12,
        _ => total.div_euclid(months) * months,
    };
    days_from_civil(floored.div_euclid(12), (floored.rem_euclid(12) + 1) as u32, 1)
        .checked_mul(MILLIS_PER_DAY)
}

/// `CEIL(timestamp TO unit)`: the floor, or the next period's start if not already on one.
pub fn ceil(unit: TimeUnit, millis: i64) -> Option<i64> {
    let floored = floor(unit, millis)?;
    if floored == millis {
        return Some(millis);
    }
    match unit.months() {
        Some(months) => add_months(floored, months),
        None => floored.checked_add(unit.fixed_millis()?),
    }
}

/// Adds months to a timestamp, clamping the day to the end of the target month
/// (`2024-01-31 + 1 month = 2024-02-29`, as PostgreSQL and Flink). `None` on overflow.
pub fn add_months(millis: i64, months: i64) -> Option<i64> {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let in_day = millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let total = (year * 12 + month as i64 - 1).checked_add(months)?;
    let (new_year, new_month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    if !(-1_000_000..=1_000_000).contains(&new_year) {
        return None;
    }
    let new_day = day.min(days_in_month(new_year, new_month));
    days_from_civil(new_year, new_month, new_day).checked_mul(MILLIS_PER_DAY)?.checked_add(in_day)
}

/// Whole months from `start` to `end`, counting a month only when the day and time of day
/// have been reached (`TIMESTAMPDIFF(MONTH, ...)` in Calcite's `subtractMonths` and MySQL:
/// 2024-01-31 to 2024-02-29 is 0 months).
pub fn months_between(start: i64, end: i64) -> i64 {
    let (y1, m1, ..) = timestamp_parts(start);
    let (y2, m2, ..) = timestamp_parts(end);
    let months = (y2 * 12 + m2 as i64) - (y1 * 12 + m1 as i64);
    // The day of month and time of day, as one comparable number.
    let within_month = |millis: i64| {
        let (_, _, day, ..) = timestamp_parts(millis);
        day as i64 * MILLIS_PER_DAY + millis.rem_euclid(MILLIS_PER_DAY)
    };
    let (start_within, end_within) = (within_month(start), within_month(end));
    if months > 0 && end_within < start_within {
        months - 1
    } else if months < 0 && end_within > start_within {
        months + 1
    } else {
        months
    }
}

/// Parses `YYYY-MM-DD` (also with one-digit month and day) to days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    let mut parts = text.splitn(3, '-');
    let (year_text, month_text, day_text) = (parts.next()?, parts.next()?, parts.next()?);
    if year_text.is_empty() || year_text.len() > 6 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = year_text.parse().ok()?;
    let month: u32 = parse_small(month_text)?;
    let day: u32 = parse_small(day_text)?;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
        .then(|| days_from_civil(year, month, day))
}

/// One or two ASCII digits.
fn parse_small(text: &str) -> Option<u32> {
    ((1..=2).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]]` to milliseconds since the epoch; digits of
/// the fraction after the third are truncated (eddy stores milliseconds).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date_text, time_text) = match text.find([' ', 'T']) {
        Some(at) => (&text[..at], Some(text[at + 1..].trim_start())),
        None => (text, None),
    };
    let days = parse_date(date_text)?;
    let mut millis = 0;
    if let Some(time_text) = time_text {
        let (clock, fraction) = time_text.split_once('.').unwrap_or((time_text, ""));
        let mut fields = clock.split(':');
        let hour = parse_small(fields.next()?)?;
        let minute = parse_small(fields.next()?)?;
        let second = fields.next().map(parse_small).unwrap_or(Some(0))?;
        if fields.next().is_some() || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
            return None;
        }
        let milli: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
        millis = (hour as i64 * 3600 + minute as i64 * 60 + second as i64) * 1000 + milli;
    }
    days.checked_mul(MILLIS_PER_DAY)?.checked_add(millis)
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{}-{month:02}-{day:02}", format_year(year))
}

/// Four digits at least; a minus sign before years before 0.
fn format_year(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` with `precision` fraction digits (0 to 3).
pub fn format_timestamp(millis: i64, precision: u8) -> String {
    let (year, month, day, hour, minute, second, milli) = timestamp_parts(millis);
    let mut text = format!("{}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}", format_year(year));
    if precision > 0 {
        let fraction = format!("{milli:03}");
        text.push('.');
        text.push_str(&fraction[..precision.min(3) as usize]);
    }
    text
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `DATE_FORMAT(timestamp, pattern)` with Java `SimpleDateFormat` letters, as Flink:
/// `yyyy yy MM M MMM MMMM dd d HH H hh h mm m ss s SSS a E EEEE D`, text in single quotes,
/// `''` for a quote; other ASCII letters are an error (`Err` names the letter).
pub fn date_format(millis: i64, pattern: &str) -> Result<String, String> {
    let (year, month, day, hour, minute, second, milli) = timestamp_parts(millis);
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let letter = chars[i];
        let mut count = 1;
        while i + count < chars.len() && chars[i + count] == letter {
            count += 1;
        }
        if letter == '\'' {
            // '' is a quote; 'text' is literal.
            if count >= 2 {
                out.extend(std::iter::repeat_n('\'', count / 2));
                i += count / 2 * 2;
                continue;
            }
            let Some(end) = chars[i + 1..].iter().position(|&c| c == '\'') else {
                return Err("unterminated quote".to_owned());
            };
            out.extend(&chars[i + 1..i + 1 + end]);
            i += end + 2;
            continue;
        }
        let number = |value: i64| format!("{value:0width$}", width = count);
        let piece = match letter {
            'y' if count == 2 => format!("{:02}", year.rem_euclid(100)),
            'y' => number(year),
            'M' if count >= 4 => MONTH_NAMES[month as usize - 1].to_owned(),
            'M' if count == 3 => MONTH_NAMES[month as usize - 1][..3].to_owned(),
            'M' => number(month as i64),
            'd' => number(day as i64),
            'D' => number(days - days_from_civil(year, 1, 1) + 1),
            'H' => number(hour as i64),
            'h' => number(if hour % 12 == 0 { 12 } else { hour as i64 % 12 }),
            'm' => number(minute as i64),
            's' => number(second as i64),
            'S' => {
                // Fraction digits, truncated or zero-padded to `count`.
                let fraction = format!("{milli:03}000000");
                fraction[..count.min(9)].to_owned()
            }
            'a' => (if hour < 12 { "AM" } else { "PM" }).to_owned(),
            'E' if count >= 4 => DAY_NAMES[iso_day_of_week(days) as usize - 1].to_owned(),
            'E' => DAY_NAMES[iso_day_of_week(days) as usize - 1][..3].to_owned(),
            c if c.is_ascii_alphabetic() => return Err(format!("unsupported pattern letter '{c}'")),
            c => std::iter::repeat_n(c, count).collect(),
        };
        out.push_str(&piece);
        i += count;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_date("2024-02-29").map(format_date).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1-5").map(format_date).as_deref(), Some("2024-01-05"));
        let ts = parse_timestamp("2024-03-15 12:34:56.789123").unwrap();
        assert_eq!(format_timestamp(ts, 3), "2024-03-15 12:34:56.789");
        assert_eq!(format_timestamp(ts, 0), "2024-03-15 12:34:56");
        assert_eq!(parse_timestamp("2024-03-15T01:02"), parse_timestamp("2024-03-15 01:02:00"));
        assert_eq!(parse_timestamp("2024-03-15 24:00:00"), None);
        assert_eq!(format_timestamp(-1, 3), "1969-12-31 23:59:59.999");
    }

    #[test]
    fn extract_fields() {
        let ts = parse_timestamp("2024-12-30 07:08:09.010").unwrap();
        assert_eq!(extract(TimeUnit::Year, ts), 2024);
        assert_eq!(extract(TimeUnit::Quarter, ts), 4);
        assert_eq!(extract(TimeUnit::Week, ts), 1, "ISO week 1 of 2025");
        assert_eq!(extract(TimeUnit::DayOfWeek, ts), 2, "a Monday; Sunday = 1");
        assert_eq!(extract(TimeUnit::IsoDayOfWeek, ts), 1);
        assert_eq!(extract(TimeUnit::DayOfYear, ts), 365);
        assert_eq!(extract(TimeUnit::Millisecond, ts), 9_010);
        assert_eq!(extract(TimeUnit::Century, ts), 21);
    }

    #[test]
    fn floor_ceil_and_months() {
        let ts = parse_timestamp("2024-05-15 10:30:00").unwrap();
        let at = |text| parse_timestamp(text).unwrap();
        assert_eq!(floor(TimeUnit::Month, ts), Some(at("2024-05-01")));
        assert_eq!(floor(TimeUnit::Quarter, ts), Some(at("2024-04-01")));
        assert_eq!(floor(TimeUnit::Week, ts), Some(at("2024-05-12")), "the Sunday before");
        assert_eq!(ceil(TimeUnit::Hour, ts), Some(at("2024-05-15 11:00")));
        assert_eq!(ceil(TimeUnit::Year, ts), Some(at("2025-01-01")));
        assert_eq!(ceil(TimeUnit::Day, at("2024-05-15")), Some(at("2024-05-15")));
        assert_eq!(add_months(at("2024-01-31"), 1), Some(at("2024-02-29")));
        assert_eq!(months_between(at("2024-01-31"), at("2024-02-29")), 0);
        assert_eq!(months_between(at("2024-01-15"), at("2024-03-15")), 2);
        assert_eq!(months_between(at("2024-03-15"), at("2024-01-16")), -1);
    }

    #[test]
    fn java_patterns() {
        let ts = parse_timestamp("2024-03-05 14:07:09.123").unwrap();
        assert_eq!(date_format(ts, "yyyy-MM-dd HH:mm:ss.SSS").unwrap(), "2024-03-05 14:07:09.123");
        assert_eq!(date_format(ts, "yy/M/d h a").unwrap(), "24/3/5 2 PM");
        assert_eq!(date_format(ts, "EEE, MMM d ''yy 'at' HH").unwrap(), "Tue, Mar 5 '24 at 14");
        assert!(date_format(ts, "yyyy Q").is_err());
    }
}
