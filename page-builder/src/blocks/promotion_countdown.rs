//! `promotion_countdown` block: a time-limited offer — its title, description, how long it still
//! runs ("Ends in 3 days 4 hours" / "还剩 3 天 4 小时", or "已结束" once past, from the visit's
//! `now_ms`) and its end in words inside a `<time datetime>` element. The end is shown in the
//! tenant's time zone when it has a fixed offset (Asia/Shanghai …), else in the offset the
//! tenant wrote. Per request (depends on now).
//!
//! Props: `title` (required), `description`, `ends_at` (RFC 3339, e.g.
//! `2026-06-30T23:59:59+08:00`).

use serde_json::{json, Value};

use super::section::common::{object, prop, text, textarea_prop, tr};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct PromotionCountdown;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number: (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An RFC 3339 date-time as (Unix milliseconds, the offset written, in minutes).
pub(crate) fn parse_rfc3339(s: &str) -> Option<(i64, i64)> {
    let b = s.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (y, mo, d) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (h, mi, sec) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
        let first: String = s.trim()[start..i]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        frac_ms = first.parse::<i64>().ok()?;
    }
    let offset = if at(i, b"Zz") && b.len() == i + 1 {
        0
    } else if at(i, b"+-") && b.len() == i + 6 && at(i + 3, b":") {
        let (oh, om) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
        if oh > 23 || om > 59 {
            return None;
        }
        let sign = if b[i] == b'-' { -1 } else { 1 };
        sign * (oh * 60 + om)
    } else {
        return None;
    };
    let days = days_from_civil(y, mo, d);
    let local_ms = ((days * 24 + h) * 60 + mi) * MINUTE_MS + sec.min(59) * 1000 + frac_ms;
    Some((local_ms - offset * MINUTE_MS, offset))
}

/// The UTC offset of IANA zones without daylight saving, in minutes.
fn fixed_zone_offset(tz: &str) -> Option<i64> {
    Some(match tz {
        "UTC" | "Etc/UTC" | "Etc/GMT" => 0,
        "Asia/Dubai" => 240,
        "Asia/Kolkata" => 330,
        "Asia/Bangkok" | "Asia/Jakarta" | "Asia/Ho_Chi_Minh" => 420,
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Hong_Kong" | "Asia/Macau" | "Asia/Taipei"
        | "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila" | "Australia/Perth" => 480,
        "Asia/Tokyo" | "Asia/Seoul" => 540,
        _ => return None,
    })
}

fn offset_name(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    if m % 60 == 0 {
        format!("UTC{sign}{}", m / 60)
    } else {
        format!("UTC{sign}{}:{:02}", m / 60, m % 60)
    }
}

/// `ms` at `offset` minutes, in words: `30 June 2026, 23:59 (UTC+8)` / `2026年6月30日 23:59（UTC+8）`.
fn when(ms: i64, offset: i64, locale: &str) -> String {
    let local = ms + offset * MINUTE_MS;
    let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
    let in_day = local.rem_euclid(DAY_MS);
    let (h, mi) = (in_day / HOUR_MS, (in_day % HOUR_MS) / MINUTE_MS);
    let zone = offset_name(offset);
    if locale.starts_with("zh") {
        format!("{y}年{m}月{d}日 {h:02}:{mi:02}（{zone}）")
    } else {
        const MONTHS: [&str; 12] = [
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
        let month = MONTHS
            .get(usize::try_from(m - 1).unwrap_or(0))
            .copied()
            .unwrap_or("");
        format!("{d} {month} {y}, {h:02}:{mi:02} ({zone})")
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "Ends in 3 days 4 hours" / "还剩 3 天 4 小时" for `left` milliseconds (> 0).
fn remaining(left: i64, locale: &str) -> String {
    let (days, hours, minutes) = (
        left / DAY_MS,
        (left % DAY_MS) / HOUR_MS,
        (left % HOUR_MS) / MINUTE_MS,
    );
    let zh = locale.starts_with("zh");
    let parts: Vec<String> = if days > 0 {
        let mut p = vec![if zh {
            format!("{days} 天")
        } else {
            plural(days, "day", "days")
        }];
        if hours > 0 {
            p.push(if zh {
                format!("{hours} 小时")
            } else {
                plural(hours, "hour", "hours")
            });
        }
        p
    } else if hours > 0 {
        let mut p = vec![if zh {
            format!("{hours} 小时")
        } else {
            plural(hours, "hour", "hours")
        }];
        if minutes > 0 {
            p.push(if zh {
                format!("{minutes} 分钟")
            } else {
                plural(minutes, "minute", "minutes")
            });
        }
        p
    } else if minutes > 0 {
        vec![if zh {
            format!("{minutes} 分钟")
        } else {
            plural(minutes, "minute", "minutes")
        }]
    } else {
        return tr(locale, "Ends in less than a minute", "即将结束").to_string();
    };
    if zh {
        format!("还剩 {}", parts.join(" "))
    } else {
        format!("Ends in {}", parts.join(" "))
    }
}

impl BlockKind for PromotionCountdown {
    fn name(&self) -> &'static str {
        "promotion_countdown"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Promotion countdown", "限时优惠倒计时")
    }
    fn icon(&self) -> &'static str {
        "⏳"
    }
    fn category(&self) -> &'static str {
        "engagement"
    }
    fn per_request(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "title": prop(json!({ "type": "string", "minLength": 1, "maxLength": 120 }), "text", ("Title", "标题"), "The offer's title, shown as an h2."),
                "description": textarea_prop(1000, ("Description", "说明"), "What the offer is and its conditions (plain text)."),
                "ends_at": prop(
                    json!({ "type": "string", "format": "date-time", "maxLength": 40 }),
                    "datetime",
                    ("Ends at", "截止时间"),
                    "When the offer ends, as an RFC 3339 date-time with its offset, e.g. 2026-06-30T23:59:59+08:00.",
                ),
            }),
            &["title", "ends_at"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "title": "Limited-time offer", "description": "", "ends_at": "2030-12-31T23:59:59+08:00" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/promotion_countdown.html")
    }
    fn check(&self, props: &Value, _site: &Site) -> Vec<(String, String)> {
        match props.get("ends_at").and_then(Value::as_str) {
            Some(s) if parse_rfc3339(s).is_none() => vec![(
                "/ends_at".into(),
                format!("`{s}` is not an RFC 3339 date-time such as 2026-06-30T23:59:59+08:00"),
            )],
            _ => Vec::new(),
        }
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let labels = json!({
            "ends": tr(locale, "Ends:", "截止时间："),
            "ended_on": tr(locale, "Ended on", "结束于"),
            "region": tr(locale, "Promotion", "限时优惠"),
        });
        let raw = text(props, "ends_at");
        let parsed = parse_rfc3339(raw);
        let ends_ms = parsed.map(|p| p.0);
        let now = ctx.visit.map(|v| v.now_ms);
        let ended = matches!((ends_ms, now), (Some(e), Some(n)) if n >= e);
        let remaining_ms = match (ends_ms, now) {
            (Some(e), Some(n)) if e > n => Some(e - n),
            _ => None,
        };
        let status = if ended {
            tr(locale, "Ended", "已结束").to_string()
        } else {
            remaining_ms
                .map(|l| remaining(l, locale))
                .unwrap_or_default()
        };
        let ends_display = parsed
            .map(|(ms, written)| {
                let offset = fixed_zone_offset(&ctx.site.tenant.time_zone).unwrap_or(written);
                when(ms, offset, locale)
            })
            .unwrap_or_default();
        json!({
            "title": text(props, "title"),
            "description": text(props, "description"),
            "ends_at": if parsed.is_some() { raw } else { "" },
            "ends_at_ms": ends_ms,
            "ends_display": ends_display,
            "ended": ended,
            "remaining_ms": remaining_ms,
            "status": status,
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn promotion_countdown_passes_the_standard_checks() {
        kit::standard(&PromotionCountdown);
    }

    #[test]
    fn rfc3339_parses_offsets_and_fractions_and_rejects_the_rest() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_rfc3339("1970-01-01T08:00:00+08:00"), Some((0, 480)));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some((1500, 0)));
        assert_eq!(
            parse_rfc3339("2026-06-01T00:00:00Z").map(|p| p.0),
            Some(1_780_272_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00-05:30").map(|p| p.1),
            Some(-330)
        );
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-06-01",
            "2026-06-01T24:00:00Z",
            "2026-06-01T00:00:00",
            "2026-06-01T00:00:00+8",
            "soon",
            "2026-06-01T00:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(civil_from_days(days_from_civil(2026, 6, 30)), (2026, 6, 30));
    }

    #[test]
    fn promotion_countdown_counts_down_and_ends() {
        // Now: 2026-06-01T00:00:00Z = 08:00 in Shanghai. Ends 3 days 4 hours later.
        let props = json!({"title": "Summer", "ends_at": "2026-06-04T12:00:00+08:00"});
        let b = kit::data(&PromotionCountdown, &props, &Env::new(), "zh-CN");
        assert_eq!(b["status"], "还剩 3 天 4 小时");
        assert_eq!(b["ends_display"], "2026年6月4日 12:00（UTC+8）");
        assert_eq!(b["ended"], false);
        let b = kit::data(&PromotionCountdown, &props, &Env::new(), "en");
        assert_eq!(b["status"], "Ends in 3 days 4 hours");
        assert_eq!(b["ends_display"], "4 June 2026, 12:00 (UTC+8)");
        let b = kit::data(
            &PromotionCountdown,
            &json!({"title": "t", "ends_at": "2026-06-01T01:00:00Z"}),
            &Env::new(),
            "en",
        );
        assert_eq!(b["status"], "Ends in 1 hour");
        let ended = Env::new().now(1_800_000_000_000);
        let b = kit::data(&PromotionCountdown, &props, &ended, "zh-CN");
        assert_eq!(b["status"], "已结束");
        assert_eq!(b["ended"], true);
        let html = kit::render(&PromotionCountdown, &props, &ended, "zh-CN");
        assert!(html.contains("已结束"), "{html}");
        assert!(
            html.contains("<time datetime=\"2026-06-04T12:00:00+08:00\">"),
            "{html}"
        );
    }

    #[test]
    fn promotion_countdown_uses_the_written_offset_for_unknown_zones() {
        let mut env = Env::new();
        env.site.tenant.time_zone = "Europe/Berlin".into();
        let b = kit::data(
            &PromotionCountdown,
            &json!({"title": "t", "ends_at": "2026-07-01T00:00:00+02:00"}),
            &env,
            "en",
        );
        assert_eq!(b["ends_display"], "1 July 2026, 00:00 (UTC+2)");
    }

    #[test]
    fn promotion_countdown_checks_the_end() {
        let p =
            PromotionCountdown.check(&json!({"title": "t", "ends_at": "tomorrow"}), &kit::site());
        assert_eq!(p[0].0, "/ends_at");
        assert!(!kit::valid(
            &PromotionCountdown,
            &json!({"title": "t", "ends_at": "tomorrow"})
        ));
        assert!(PromotionCountdown
            .check(&PromotionCountdown.defaults(), &kit::site())
            .is_empty());
    }

    #[test]
    fn promotion_countdown_escapes_its_text() {
        let props = json!({"title": XSS, "description": XSS, "ends_at": XSS});
        kit::assert_escaped(&kit::render(&PromotionCountdown, &props, &Env::new(), "en"));
    }
}
