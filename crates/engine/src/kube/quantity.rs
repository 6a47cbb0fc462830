//! Kubernetes resource quantities (`64Mi`, `1G`, `500m`, `1.5`, `2e3`) for memory and cpu
//! limits, both ways.

use crate::error::{Error, Result};

/// The value of a quantity as a number (`500m` is 0.5, `1Ki` is 1024).
pub fn parse_quantity(q: &str) -> Result<f64> {
    let t = q.trim();
    let bad = || Error::invalid(format!("invalid quantity {q:?}"));
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| bad())?;
            10f64.powi(exp)
        }
        _ => return Err(bad()),
    };
    let v = value * mult;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    Ok(v)
}

/// Bytes as a quantity: the largest binary unit that divides it, else plain bytes.
pub fn memory_quantity(bytes: i64) -> String {
    for (unit, size) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes > 0 && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// CPUs in nano-cpus as a quantity: whole cpus plainly, else millicores.
pub fn cpu_quantity(nano_cpus: i64) -> String {
    if nano_cpus % 1_000_000_000 == 0 {
        (nano_cpus / 1_000_000_000).to_string()
    } else {
        format!("{}m", (nano_cpus + 500_000) / 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("64Mi").unwrap(), 67_108_864.0);
        assert_eq!(parse_quantity("1G").unwrap(), 1e9);
        assert_eq!(parse_quantity("500m").unwrap(), 0.5);
        assert_eq!(parse_quantity("2").unwrap(), 2.0);
        assert_eq!(parse_quantity("1.5").unwrap(), 1.5);
        assert_eq!(parse_quantity("2e3").unwrap(), 2000.0);
        assert!(parse_quantity("abc").is_err());
        assert!(parse_quantity("1Xi").is_err());
        assert!(parse_quantity("").is_err());
    }

    #[test]
    fn back_to_quantities() {
        assert_eq!(memory_quantity(67_108_864), "64Mi");
        assert_eq!(memory_quantity(1 << 30), "1Gi");
        assert_eq!(memory_quantity(1000), "1000");
        assert_eq!(cpu_quantity(500_000_000), "500m");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        for q in ["64Mi", "3Gi"] {
            assert_eq!(memory_quantity(parse_quantity(q).unwrap() as i64), q);
        }
    }
}
