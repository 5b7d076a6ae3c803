//! Vehicle identification numbers (ISO 3779; in China GB 16735, which makes the check digit
//! mandatory): 17 characters of `0-9` and `A-Z` without `I`, `O` and `Q`, with a check digit at
//! position 9.
//!
//! **Owns** the one definition of a valid VIN used by imports, syncs and lookups.
//!
//! **Invariants**
//! - [`Vin::parse`] accepts exactly the strings that, after trimming surrounding whitespace and
//!   upper-casing ASCII letters, have 17 allowed characters and the right check digit; a
//!   [`Vin`] always holds that normal form, so equal vehicles have equal strings.
//! - The check digit is the weighted sum of the transliterated characters (weights
//!   8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2) modulo 11, written `X` for 10.
//! - What the check digit catches, exactly: changing the check digit itself, or changing any
//!   other character to one with a **different transliteration value**. Because every weight
//!   but position 9's is non-zero modulo the prime 11 and values differ by at most 9, such a
//!   change always moves the sum modulo 11. Characters that share a value (`A`, `J` and `1`;
//!   `B`, `K`, `S` and `2`; …) can replace each other unnoticed — the standard's own limit,
//!   shown by a property test below.

use std::fmt;

/// Weights of positions 1–17 (position 9, the check digit, weighs 0).
const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/// The 1-based position of the check digit.
pub const CHECK_POSITION: usize = 9;

/// A valid VIN in normal form (upper case, no surrounding spaces).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vin(String);

/// Why a string is not a VIN. Positions are 1-based, as printed on a vehicle document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VinError {
    #[error("the VIN is empty")]
    Empty,
    #[error("a VIN has 17 characters; this one has {len}")]
    Length { len: usize },
    /// `I`, `O` or `Q`: never used, being too easily read as `1` and `0`.
    #[error("character {position} is '{found}', a letter VINs never use (I, O and Q are excluded so they cannot be read as 1 or 0)")]
    ExcludedLetter { position: usize, found: char },
    #[error("character {position} is '{found}'; a VIN has only digits and the letters A–Z except I, O and Q")]
    Character { position: usize, found: char },
    #[error(
        "character {CHECK_POSITION} is '{found}' but the check digit of this VIN is '{expected}'"
    )]
    CheckDigit { found: char, expected: char },
}

impl VinError {
    /// A stable machine code for the HTTP edge.
    pub fn code(&self) -> &'static str {
        match self {
            VinError::Empty => "vin_empty",
            VinError::Length { .. } => "vin_length",
            VinError::ExcludedLetter { .. } | VinError::Character { .. } => "vin_character",
            VinError::CheckDigit { .. } => "vin_check_digit",
        }
    }
}

/// The transliteration value of an allowed character (ISO 3779 annex / GB 16735 table);
/// `None` for a character a VIN cannot hold.
pub fn value(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        'R' | 'Z' => 9,
        _ => return None,
    })
}

/// Every character a VIN may hold, in ASCII order.
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

/// The check digit of 17 allowed characters (position 9 is ignored): `'0'`–`'9'` or `'X'`.
/// `None` when `chars` is not 17 allowed characters.
pub fn check_digit(chars: &[char]) -> Option<char> {
    if chars.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in chars.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    Some(match sum % 11 {
        10 => 'X',
        d => char::from_digit(d, 10)?,
    })
}

impl Vin {
    /// Validates and normalises `text` (surrounding whitespace trimmed, letters upper-cased).
    /// The first problem found is reported, in this order: empty, length, each character
    /// from the left, the check digit.
    pub fn parse(text: &str) -> Result<Vin, VinError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VinError::Empty);
        }
        let chars: Vec<char> = text.chars().map(|c| c.to_ascii_uppercase()).collect();
        if chars.len() != 17 {
            return Err(VinError::Length { len: chars.len() });
        }
        for (i, &c) in chars.iter().enumerate() {
            if matches!(c, 'I' | 'O' | 'Q') {
                return Err(VinError::ExcludedLetter {
                    position: i + 1,
                    found: c,
                });
            }
            if value(c).is_none() {
                return Err(VinError::Character {
                    position: i + 1,
                    found: c,
                });
            }
        }
        // Every character is allowed, so the check digit exists.
        let expected = check_digit(&chars).unwrap_or('?');
        let found = chars[CHECK_POSITION - 1];
        if found != expected {
            return Err(VinError::CheckDigit { found, expected });
        }
        Ok(Vin(chars.into_iter().collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Makes a valid VIN from 16 allowed characters (positions 1–8 and 10–17) by inserting the
    /// check digit; `None` if any character is not allowed. For demo data and tests.
    pub fn with_check_digit(sixteen: &str) -> Option<Vin> {
        let mut chars: Vec<char> = sixteen.chars().map(|c| c.to_ascii_uppercase()).collect();
        if chars.len() != 16 {
            return None;
        }
        chars.insert(CHECK_POSITION - 1, '0');
        let digit = check_digit(&chars)?;
        chars[CHECK_POSITION - 1] = digit;
        Some(Vin(chars.into_iter().collect()))
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Vin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_known_valid_vins() {
        // The textbook example (check digit X) and VINs whose check digits were computed by hand
        // from the table and weights above.
        for vin in [
            "1M8GDM9AXKP042788",
            "11111111111111111",
            "LRW3E7FS1PC123456",
            "WVWZZZ1J0XW000001",
            "LSGWL5SL7KS123456",
        ] {
            assert_eq!(Vin::parse(vin).map(Vin::into_string), Ok(vin.to_string()));
        }
    }

    #[test]
    fn hand_computed_check_digit() {
        // L=3·8 R=9·7 W=6·6 3·5 E=5·4 7·3 F=6·2 S=2·10 · P=7·9 C=3·8 1·7 2·6 3·5 4·4 5·3 6·2
        // = 24+63+36+15+20+21+12+20+63+24+7+12+15+16+15+12 = 375; 375 mod 11 = 1.
        let chars: Vec<char> = "LRW3E7FS0PC123456".chars().collect();
        assert_eq!(check_digit(&chars), Some('1'));
        // So the same VIN with 1 at position 9 is valid and with 5 it is not.
        assert!(Vin::parse("LRW3E7FS1PC123456").is_ok());
        assert_eq!(
            Vin::parse("LRW3E7FS5PC123456"),
            Err(VinError::CheckDigit {
                found: '5',
                expected: '1'
            })
        );
    }

    #[test]
    fn normalises_case_and_surrounding_spaces() {
        let vin = Vin::parse("  1m8gdm9axkp042788\t").unwrap();
        assert_eq!(vin.as_str(), "1M8GDM9AXKP042788");
    }

    #[test]
    fn every_error_kind_names_position_and_reason() {
        assert_eq!(Vin::parse("   "), Err(VinError::Empty));
        assert_eq!(
            Vin::parse("1M8GDM9AXKP04278"),
            Err(VinError::Length { len: 16 })
        );
        assert_eq!(
            Vin::parse("1M8GDM9AXKP0427888"),
            Err(VinError::Length { len: 18 })
        );
        assert_eq!(
            Vin::parse("1M8GDM9AXKPO42788"),
            Err(VinError::ExcludedLetter {
                position: 12,
                found: 'O'
            })
        );
        assert_eq!(
            Vin::parse("iM8GDM9AXKP042788").unwrap_err().to_string(),
            "character 1 is 'I', a letter VINs never use (I, O and Q are excluded so they cannot be read as 1 or 0)"
        );
        assert_eq!(
            Vin::parse("1M8GDM9AXKP04278-"),
            Err(VinError::Character {
                position: 17,
                found: '-'
            })
        );
        assert_eq!(
            Vin::parse("1M8GD M9AXKP04278"),
            Err(VinError::Character {
                position: 6,
                found: ' '
            })
        );
        // Non-ASCII counts as one character each (full-width digits are not digits here).
        assert_eq!(
            Vin::parse("1M8GDM9AXKP04278８"),
            Err(VinError::Character {
                position: 17,
                found: '８'
            })
        );
        let wrong = Vin::parse("1M8GDM9A5KP042788").unwrap_err();
        assert_eq!(
            wrong,
            VinError::CheckDigit {
                found: '5',
                expected: 'X'
            }
        );
        assert_eq!(
            wrong.to_string(),
            "character 9 is '5' but the check digit of this VIN is 'X'"
        );
        assert_eq!(wrong.code(), "vin_check_digit");
    }

    #[test]
    fn with_check_digit_builds_valid_vins() {
        let vin = Vin::with_check_digit("1M8GDM9AKP042788").unwrap();
        assert_eq!(vin.as_str(), "1M8GDM9AXKP042788");
        assert!(Vin::with_check_digit("1M8GDM9AKP04278").is_none());
        assert!(Vin::with_check_digit("1M8GDM9AKP04278O").is_none());
    }

    #[test]
    fn every_allowed_character_has_a_value_and_no_other_does() {
        for c in '\0'..='\u{7f}' {
            assert_eq!(value(c).is_some(), ALPHABET.contains(c), "character {c:?}");
        }
    }

    fn sixteen() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
            16,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn generated_vins_are_valid(s in sixteen()) {
            let vin = Vin::with_check_digit(&s).unwrap();
            prop_assert_eq!(Vin::parse(vin.as_str()), Ok(vin.clone()));
            prop_assert_eq!(Vin::parse(&vin.as_str().to_lowercase()), Ok(vin));
        }

        /// One substituted character: caught exactly when it is the check digit or a character
        /// with another transliteration value; a same-value swap (e.g. `A` ↔ `J` ↔ `1`) passes.
        #[test]
        fn single_substitutions_are_caught_exactly_when_the_value_changes(
            s in sixteen(),
            position in 0usize..17,
            replacement in proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
        ) {
            let vin = Vin::with_check_digit(&s).unwrap();
            let mut chars: Vec<char> = vin.as_str().chars().collect();
            let original = chars[position];
            prop_assume!(replacement != original);
            chars[position] = replacement;
            let changed: String = chars.into_iter().collect();
            let caught = Vin::parse(&changed).is_err();
            let should = position == CHECK_POSITION - 1 || value(replacement) != value(original);
            prop_assert_eq!(caught, should, "{} -> {}", vin, changed);
        }
    }

    #[test]
    fn same_value_substitutions_exist_and_pass() {
        // The standard's blind spot, shown concretely: A, J and 1 share the value 1.
        let vin = Vin::with_check_digit("AAAAAAAAAAAAAAAA").unwrap();
        let swapped = vin.as_str().replacen('A', "J", 1);
        assert_ne!(swapped, vin.as_str());
        assert!(Vin::parse(&swapped).is_ok());
    }
}
