//! Time as text: ISO-8601 durations (days, hours, minutes, seconds only) and RFC 3339
//! timestamps, to and from unix milliseconds. Parsing only; nothing here reads the clock.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest duration accepted: ten years of days. Keeps every sum of times far from
/// overflowing.
pub const MAX_DURATION_MS: i64 = 3650 * DAY_MS;

const SECOND_MS: i64 = 1000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Parses an ISO-8601 duration limited to days, hours, minutes and seconds (`P7D`, `PT24H`,
/// `PT90M`, `PT2S`, `P1DT12H`), with an optional leading `-` when `signed`, into milliseconds.
/// Says why when the text is not one.
pub fn parse_duration(text: &str, signed: bool) -> Result<i64, String> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        Some(_) => return Err("it may not be negative here".to_string()),
        None => (false, text),
    };
    let Some(rest) = rest.strip_prefix('P') else {
        return Err("it must start with `P` (for period)".to_string());
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => {
            if time.is_empty() {
                return Err("a `T` must be followed by hours, minutes or seconds".to_string());
            }
            (date, Some(time))
        }
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, i64)]| -> Result<(), String> {
        let mut digits = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let Some(offset) = units[next_unit..].iter().position(|(u, _)| *u == c) else {
                return Err(if units.iter().any(|(u, _)| *u == c) {
                    format!("`{c}` is out of order or repeated")
                } else {
                    format!(
                        "`{c}` is not a unit here; use {}",
                        units
                            .iter()
                            .map(|(u, _)| format!("`{u}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            };
            if digits.is_empty() {
                return Err(format!("a number must come before `{c}`"));
            }
            let (_, unit_ms) = units[next_unit + offset];
            let n: i64 = digits
                .parse()
                .map_err(|_| "a number is too large".to_string())?;
            total = n
                .checked_mul(unit_ms)
                .and_then(|ms| total.checked_add(ms))
                .ok_or_else(|| "it is too long".to_string())?;
            digits.clear();
            next_unit += offset + 1;
            any = true;
        }
        if digits.is_empty() {
            Ok(())
        } else {
            Err(format!("the number {digits} has no unit"))
        }
    };
    add(date, &[('D', DAY_MS)])?;
    if let Some(time) = time {
        add(time, &[('H', HOUR_MS), ('M', MINUTE_MS), ('S', SECOND_MS)])?;
    }
    if !any {
        return Err("it has no days, hours, minutes or seconds".to_string());
    }
    if total > MAX_DURATION_MS {
        return Err("it is longer than ten years (P3650D)".to_string());
    }
    Ok(if negative { -total } else { total })
}

/// Parses an RFC 3339 timestamp (`2026-11-26T09:00:00Z`, `2026-11-26T17:00:00+08:00`) into
/// unix milliseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Unix milliseconds as an RFC 3339 timestamp in UTC (`2026-11-26T09:00:00Z`); the number
/// itself when it is out of range.
pub fn format_timestamp(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("P7D", false), Ok(7 * DAY_MS));
        assert_eq!(parse_duration("PT24H", false), Ok(DAY_MS));
        assert_eq!(parse_duration("PT90M", false), Ok(90 * MINUTE_MS));
        assert_eq!(parse_duration("PT2S", false), Ok(2000));
        assert_eq!(parse_duration("P1DT12H", false), Ok(36 * HOUR_MS));
        assert_eq!(
            parse_duration("PT1H30M5S", false),
            Ok(HOUR_MS + 30 * MINUTE_MS + 5000)
        );
        assert_eq!(parse_duration("-PT1H", true), Ok(-HOUR_MS));
        assert_eq!(parse_duration("P0D", false), Ok(0));
        for bad in [
            "",
            "P",
            "PT",
            "7D",
            "P1H",
            "PT1D",
            "P1W",
            "P1Y",
            "PT1M1H",
            "PT1H1H",
            "PT24",
            "PTH",
            "pt1h",
            "P1DT",
            "P3651D",
            "P99999999999999999999D",
            " PT1H",
        ] {
            assert!(parse_duration(bad, true).is_err(), "{bad}");
        }
        assert!(parse_duration("-PT1H", false)
            .unwrap_err()
            .contains("negative"));
        assert!(parse_duration("PT1X", false).unwrap_err().contains("`X`"));
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2026-11-26T09:00:00Z").unwrap();
        assert_eq!(t, 1_795_683_600_000);
        assert_eq!(parse_timestamp("2026-11-26T17:00:00+08:00"), Some(t));
        assert_eq!(parse_timestamp("2026-11-26T09:00:00.250Z"), Some(t + 250));
        assert_eq!(format_timestamp(t), "2026-11-26T09:00:00Z");
        assert_eq!(parse_timestamp("2026-11-26"), None);
        assert_eq!(parse_timestamp("tomorrow"), None);
        assert_eq!(format_timestamp(i64::MAX), i64::MAX.to_string());
    }
}
