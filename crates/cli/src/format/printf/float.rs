//! Go's float formatting for `printf`: `fmtFloat` (`%v %g %G %e %E %f %F %b`), shortest
//! and exact digits, the `#` flag's forms.

use super::*;

/// Go's `fmtFloat`: `%v %g %G` shortest unless a precision is given, `%e %E %f %F` with
/// six decimals by default, `%b`.
pub(super) fn fmt_float(out: &mut String, f: f64, verb: char, spec: &Spec, v: &Value) {
    let (conv, default_prec) = match verb {
        'v' => ('g', None),
        'g' | 'G' | 'b' => (verb, None),
        'e' | 'E' | 'f' | 'F' => (verb, Some(6)),
        _ => return bad_verb(out, verb, v, spec),
    };
    let prec = spec.prec.or(default_prec);
    let mut body = if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        "Inf".to_string()
    } else {
        float_digits(f.abs(), conv, prec)
    };
    let special = !f.is_finite();
    if spec.sharp && conv != 'b' && !special {
        body = sharp_float(body, conv, prec);
    }
    let sign = if f.is_sign_negative() && !f.is_nan() {
        '-'
    } else if spec.plus {
        '+'
    } else if spec.space {
        ' '
    } else if special && !f.is_nan() {
        // Go prints +Inf with its sign even unasked.
        '+'
    } else {
        '\0'
    };
    let signed = |s: &str| {
        if sign == '\0' {
            s.to_string()
        } else {
            format!("{sign}{s}")
        }
    };
    if special {
        return pad_spaces(out, &signed(&body), spec);
    }
    let len = body.chars().count() + usize::from(sign != '\0');
    match spec.width {
        Some(w) if spec.zero && sign != '\0' && w > len => {
            out.push(sign);
            out.extend(std::iter::repeat_n('0', w - len));
            out.push_str(&body);
        }
        _ => pad(out, &signed(&body), spec),
    }
}

/// strconv's `AppendFloat` of a non-negative finite `f`, without sign.
fn float_digits(f: f64, conv: char, prec: Option<usize>) -> String {
    match (conv, prec) {
        ('f' | 'F', Some(p)) => {
            let mut s = format!("{:.*}", p.min(EXACT_F), f);
            pad_zeros(&mut s, p.saturating_sub(EXACT_F));
            s
        }
        ('e' | 'E', Some(p)) => {
            let (digits, exp) = sig_digits(f, p + 1);
            let mut s = e_form(&digits, exp, p);
            if conv == 'E' {
                s = s.to_uppercase();
            }
            s
        }
        ('g' | 'G', Some(p)) => g_form(f, p.max(1), conv == 'G'),
        ('g' | 'G', None) => {
            let s = go_float(f);
            if conv == 'G' { s.to_uppercase() } else { s }
        }
        ('b', _) => binary_exponent(f),
        // 'e' and 'f' always have a precision (6 by default).
        (_, None) => go_float(f),
        _ => go_float(f),
    }
}

fn pad_zeros(s: &mut String, n: usize) {
    s.extend(std::iter::repeat_n('0', n));
}

/// `f` rounded to `n` significant decimal digits (`n` ≥ 1): the digits with trailing zeros
/// dropped (empty for zero) and the decimal exponent of the first one.
fn sig_digits(f: f64, n: usize) -> (String, i32) {
    if f == 0.0 {
        return (String::new(), 0);
    }
    let s = format!("{:.*e}", (n - 1).min(EXACT_E), f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (
        digits.trim_end_matches('0').to_string(),
        exp.parse().unwrap_or(0),
    )
}

/// `d.ddde±XX` with `decimals` digits after the point, from significant `digits`.
fn e_form(digits: &str, exp: i32, decimals: usize) -> String {
    let mut mant = String::with_capacity(decimals + 2);
    let mut it = digits.chars();
    mant.push(it.next().unwrap_or('0'));
    if decimals > 0 {
        mant.push('.');
        let rest: String = it.take(decimals).collect();
        let n = rest.len();
        mant.push_str(&rest);
        pad_zeros(&mut mant, decimals - n);
    }
    go_exponent(&mant, exp)
}

/// strconv's `%g` with precision `p`: exponent form when the exponent is below -4 or at
/// least the precision; trailing zeros never printed.
fn g_form(f: f64, p: usize, upper: bool) -> String {
    let (digits, exp10) = sig_digits(f, p);
    let nd = digits.len();
    let dp = if nd == 0 { 0 } else { exp10 as i64 + 1 };
    let mut eprec = p as i64;
    if eprec > nd as i64 && nd as i64 >= dp {
        eprec = nd as i64;
    }
    let exp = dp - 1;
    let s = if exp < -4 || exp >= eprec {
        let prec = p.min(nd).max(1);
        e_form(&digits, exp as i32, prec - 1)
    } else {
        let prec = if p as i64 > dp { nd as i64 } else { p as i64 };
        f_form(&digits, dp, (prec - dp).max(0) as usize)
    };
    if upper { s.to_uppercase() } else { s }
}

/// `ddd.ddd` from significant `digits` with the decimal point after `dp` of them.
fn f_form(digits: &str, dp: i64, decimals: usize) -> String {
    let d = digits.as_bytes();
    let digit = |i: i64| -> char {
        if i >= 0 && (i as usize) < d.len() {
            d[i as usize] as char
        } else {
            '0'
        }
    };
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if decimals > 0 {
        s.push('.');
        for i in 0..decimals as i64 {
            s.push(digit(dp + i));
        }
    }
    s
}

/// `%b`: the decimal mantissa and binary exponent, `6755399441055744p-52`.
fn binary_exponent(f: f64) -> String {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    let exp = if exp == 0 {
        -1074
    } else {
        mant |= 1 << 52;
        exp - 1075
    };
    format!("{mant}p{}{}", if exp < 0 { "-" } else { "+" }, exp.abs())
}

/// Go's `#` for floats: always a decimal point, and `%#g` keeps trailing zeros up to the
/// precision (6 when none was given).
fn sharp_float(num: String, conv: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match conv {
        'g' | 'G' => prec.map_or(6, |p| p as i64),
        _ => 0,
    };
    let (body, tail) = match num.find(['e', 'E']) {
        Some(i) => (num[..i].to_string(), num[i..].to_string()),
        None => (num, String::new()),
    };
    let mut saw_nonzero = false;
    let mut has_point = false;
    for c in body.chars() {
        if c == '.' {
            has_point = true;
        } else {
            saw_nonzero |= c != '0';
            if saw_nonzero {
                digits -= 1;
            }
        }
    }
    let mut body = body;
    if !has_point {
        if body == "0" {
            digits -= 1;
        }
        body.push('.');
    }
    if digits > 0 {
        pad_zeros(&mut body, digits as usize);
    }
    body + &tail
}
