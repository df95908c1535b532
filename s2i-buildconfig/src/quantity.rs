//! Kubernetes resource quantities (`512Mi`, `2Gi`, `500m`, `1`, `1e3`), as
//! `resources.limits` writes them, turned into engine limits.
//!
//! ```text
//! quantity  := sign? number suffix
//! number    := digits | digits "." digits? | "." digits
//! suffix    := binarySI | decimalSI | ("e" | "E") sign? digits
//! binarySI  := Ki | Mi | Gi | Ti | Pi | Ei
//! decimalSI := n | u | m | "" | k | M | G | T | P | E
//! ```
//!
//! Values are rounded up to whole units, as Kubernetes does (`0.5` bytes is 1 byte).

/// A parsed quantity: `mantissa × 2^binary × 10^decimal`, with a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedQuantity {
    negative: bool,
    mantissa: u128,
    decimal: i32,
    binary: u32,
}

/// Why a quantity does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuantityError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for QuantityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a quantity: {}", self.input, self.reason)
    }
}

impl ParsedQuantity {
    /// Parse a quantity as Kubernetes writes it.
    pub(crate) fn parse(input: &str) -> Result<Self, QuantityError> {
        let fail = |reason: &str| QuantityError { input: input.to_owned(), reason: reason.to_owned() };
        let text = input.trim();
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let (negative, rest) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(fail("it has no number"));
        }
        if fraction.contains('.') {
            return Err(fail("it has two decimal points"));
        }
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(fail("it has too many digits"));
        }
        let mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| fail("bad digits"))? };
        let mut decimal = -(fraction.len() as i32);
        let mut binary = 0;
        match suffix {
            "Ki" => binary = 10,
            "Mi" => binary = 20,
            "Gi" => binary = 30,
            "Ti" => binary = 40,
            "Pi" => binary = 50,
            "Ei" => binary = 60,
            "n" => decimal -= 9,
            "u" => decimal -= 6,
            "m" => decimal -= 3,
            "" => {}
            "k" => decimal += 3,
            "M" => decimal += 6,
            "G" => decimal += 9,
            "T" => decimal += 12,
            "P" => decimal += 15,
            "E" => decimal += 18,
            exponent if exponent.starts_with(['e', 'E']) => {
                let value = &exponent[1..];
                let unsigned = value.trim_start_matches(['+', '-']);
                if unsigned.is_empty()
                    || !unsigned.bytes().all(|b| b.is_ascii_digit())
                    || value.len() - unsigned.len() > 1
                {
                    return Err(fail("the exponent is not a number"));
                }
                let exponent: i32 = value.parse().map_err(|_| fail("the exponent is too large"))?;
                if exponent.abs() > 60 {
                    return Err(fail("the exponent is too large"));
                }
                decimal += exponent;
            }
            other => {
                return Err(fail(&format!(
                    "unknown suffix {other:?} (use Ki, Mi, Gi, Ti, Pi, Ei, or n, u, m, k, M, G, T, P, E)"
                )));
            }
        }
        Ok(Self { negative, mantissa, decimal, binary })
    }

    /// Whether the quantity is below zero.
    pub(crate) fn is_negative(&self) -> bool {
        self.negative && self.mantissa != 0
    }

    /// The value in units of `10^-scale` (scale 0: whole units; 9: nano-units),
    /// rounded up; `None` when it does not fit in an `i64`.
    pub(crate) fn scaled(&self, scale: i32) -> Option<i64> {
        let mut value = self.mantissa.checked_mul(1u128.checked_shl(self.binary)?)?;
        let exponent = self.decimal + scale;
        if exponent >= 0 {
            value = value.checked_mul(10u128.checked_pow(exponent as u32)?)?;
        } else {
            let divisor = 10u128.checked_pow((-exponent) as u32)?;
            value = value.div_ceil(divisor);
        }
        let value = i64::try_from(value).ok()?;
        Some(if self.negative { -value } else { value })
    }
}

/// `resources.limits.memory` in bytes.
pub(crate) fn memory_bytes(text: &str) -> Result<i64, QuantityError> {
    let quantity = ParsedQuantity::parse(text)?;
    quantity.scaled(0).ok_or_else(|| QuantityError { input: text.to_owned(), reason: "it is too large".into() })
}

/// `resources.limits.cpu` in units of 10⁻⁹ CPUs (the engine's `NanoCpus`).
pub(crate) fn nano_cpus(text: &str) -> Result<i64, QuantityError> {
    let quantity = ParsedQuantity::parse(text)?;
    quantity.scaled(9).ok_or_else(|| QuantityError { input: text.to_owned(), reason: "it is too large".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities() {
        for (text, bytes) in [
            ("512Mi", 512 << 20),
            ("2Gi", 2 << 30),
            ("1Ki", 1024),
            ("1G", 1_000_000_000),
            ("100M", 100_000_000),
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("123E3", 123_000),
            ("1.5Gi", 3 << 29),
            ("0.5", 1),
            (".5Ki", 512),
            ("1k", 1000),
            ("+64Mi", 64 << 20),
            ("100m", 1),
        ] {
            assert_eq!(memory_bytes(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn cpu_quantities() {
        for (text, nanos) in [
            ("1", 1_000_000_000),
            ("500m", 500_000_000),
            ("0.25", 250_000_000),
            ("2", 2_000_000_000),
            ("100u", 100_000),
            ("1n", 1),
        ] {
            assert_eq!(nano_cpus(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn bad_quantities() {
        for text in ["", "Mi", "1.2.3", "1x", "1MiB", "1e", "1e+-3", "12 Mi", "--1", "1e99"] {
            assert!(ParsedQuantity::parse(text).is_err(), "{text:?}");
        }
        assert!(ParsedQuantity::parse("-1").unwrap().is_negative());
        assert!(!ParsedQuantity::parse("-0").unwrap().is_negative());
        assert!(memory_bytes("9999999Ei").is_err(), "too large");
    }
}
