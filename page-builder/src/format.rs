//! Number and money formatting per locale (`zh-CN`, `en`). Money is integer minor units; the
//! currency's exponent decides the decimals (2 for CNY, EUR, USD; 0 for JPY, KRW).

/// Digits after the decimal point in `currency`'s minor unit.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

/// The symbol shown before an amount in `locale`.
fn symbol(currency: &str, locale: &str) -> String {
    let zh = locale.starts_with("zh");
    match currency {
        "CNY" if zh => "¥".into(),
        "CNY" => "CN¥".into(),
        "USD" if zh => "US$".into(),
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "JPY" if zh => "JP¥".into(),
        "JPY" => "¥".into(),
        other => format!("{other} "),
    }
}

/// `n` with thousands separators: `1,234,567` (both locales group by three).
pub fn number(n: i64, _locale: &str) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `minor` units of `currency` for display in `locale`: `¥219,800` (zh-CN), `CN¥219,800`
/// (en); decimals only when the amount has a fraction (`¥1,234.50`). Negative amounts lead
/// with a minus sign.
pub fn money(minor: i64, currency: &str, locale: &str) -> String {
    let exp = exponent(currency);
    let scale = 10i64.pow(exp);
    let whole = minor.unsigned_abs() / scale as u64;
    let frac = minor.unsigned_abs() % scale as u64;
    let sign = if minor < 0 { "-" } else { "" };
    let whole = number(whole as i64, locale);
    let sym = symbol(currency, locale);
    if frac == 0 {
        format!("{sign}{sym}{whole}")
    } else {
        format!("{sign}{sym}{whole}.{frac:0width$}", width = exp as usize)
    }
}

/// A rate in basis points as a percentage: `3.99%`.
pub fn percent_bp(bp: u32, _locale: &str) -> String {
    if bp % 100 == 0 {
        format!("{}%", bp / 100)
    } else {
        let fraction = format!("{:02}", bp % 100);
        format!("{}.{}%", bp / 100, fraction.trim_end_matches('0'))
    }
}

/// A distance in metres: `850 m`, `12.3 km` (en) or `850 米`, `12.3 公里` (zh-CN).
pub fn distance(metres: u64, locale: &str) -> String {
    let zh = locale.starts_with("zh");
    if metres < 1000 {
        return if zh {
            format!("{metres} 米")
        } else {
            format!("{metres} m")
        };
    }
    let tenths = (metres + 50) / 100;
    let text = if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    };
    if zh {
        format!("{text} 公里")
    } else {
        format!("{text} km")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_per_locale() {
        assert_eq!(money(21_980_000, "CNY", "zh-CN"), "¥219,800");
        assert_eq!(money(21_980_000, "CNY", "en"), "CN¥219,800");
        assert_eq!(money(123_450, "CNY", "zh-CN"), "¥1,234.50");
        assert_eq!(money(-5, "CNY", "en"), "-CN¥0.05");
        assert_eq!(money(1234, "JPY", "en"), "¥1,234");
        assert_eq!(money(0, "EUR", "en"), "€0");
    }

    #[test]
    fn numbers_and_rates() {
        assert_eq!(number(0, "en"), "0");
        assert_eq!(number(999, "en"), "999");
        assert_eq!(number(1000, "en"), "1,000");
        assert_eq!(number(-1_234_567, "zh-CN"), "-1,234,567");
        assert_eq!(percent_bp(399, "en"), "3.99%");
        assert_eq!(percent_bp(350, "en"), "3.5%");
        assert_eq!(percent_bp(400, "en"), "4%");
        assert_eq!(distance(850, "en"), "850 m");
        assert_eq!(distance(12_340, "zh-CN"), "12.3 公里");
        assert_eq!(distance(2_000, "en"), "2 km");
    }
}
